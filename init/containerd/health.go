package containerd

import (
	"context"
	"fmt"

	client "github.com/containerd/containerd/v2/client"
)

// Version asks the daemon at socket for its version: the health check. A
// socket that accepts connections but does not answer is not healthy.
func Version(ctx context.Context, socket string) (string, error) {
	c, err := client.New(socket, client.WithTimeout(0))
	if err != nil {
		return "", fmt.Errorf("containerd at %s: %w", socket, err)
	}
	defer c.Close()
	v, err := c.Version(ctx)
	if err != nil {
		return "", fmt.Errorf("containerd at %s: version: %w", socket, err)
	}
	return v.Version, nil
}
