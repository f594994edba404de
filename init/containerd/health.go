package containerd

import (
	"context"
	"fmt"
	"os"

	client "github.com/containerd/containerd/v2/client"
)

// Version asks the daemon at socket for its version: the health check. A
// socket that accepts connections but does not answer is not healthy.
func Version(ctx context.Context, socket string) (string, error) {
	if err := socketPresent(socket); err != nil {
		return "", err
	}
	c, err := client.New(socket)
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

// socketPresent fails at once when there is no socket file: the client
// would otherwise retry the dial until its timeout.
func socketPresent(socket string) error {
	st, err := os.Stat(socket)
	if err != nil {
		return fmt.Errorf("containerd at %s: %w (not started?)", socket, err)
	}
	if st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("containerd at %s: not a socket", socket)
	}
	return nil
}

// Connect opens a client to the daemon at socket in edgegate's namespace.
func Connect(socket string, opts ...client.Opt) (*client.Client, error) {
	if err := socketPresent(socket); err != nil {
		return nil, err
	}
	c, err := client.New(socket, append([]client.Opt{client.WithDefaultNamespace(Namespace)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("containerd at %s: %w", socket, err)
	}
	return c, nil
}
