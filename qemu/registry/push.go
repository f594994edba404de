package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Push uploads img to the registry as repo:tag through the distribution
// HTTP API v2: per platform the layer and config blobs (skipping blobs the
// registry has), then the manifests by digest, then the index under tag
// (the registry checks that what a manifest names is already there, hence
// the order). It returns the digest the tag now points at.
func (r *Registry) Push(ctx context.Context, repo, tag string, img Image) (string, error) {
	for _, m := range img.Manifests {
		for _, b := range []Blob{m.Layer, m.Config} {
			if err := r.pushBlob(ctx, repo, b); err != nil {
				return "", fmt.Errorf("pushing %s blob %s of %s to %s: %w", b.MediaType, b.Digest, m.Platform, repo, err)
			}
		}
		if err := r.putManifest(ctx, repo, m.Manifest.Digest, m.Manifest); err != nil {
			return "", fmt.Errorf("pushing the %s manifest to %s: %w", m.Platform, repo, err)
		}
	}
	if err := r.putManifest(ctx, repo, tag, img.Index); err != nil {
		return "", fmt.Errorf("pushing the index to %s:%s: %w", repo, tag, err)
	}
	return img.Index.Digest, nil
}

// pushBlob uploads b monolithically: POST opens an upload session, one PUT
// carries the whole content and names its digest.
func (r *Registry) pushBlob(ctx context.Context, repo string, b Blob) error {
	resp, err := r.do(ctx, http.MethodHead, r.url("/v2/"+repo+"/blobs/"+b.Digest), nil, "", http.StatusOK, http.StatusNotFound)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	resp, err = r.do(ctx, http.MethodPost, r.url("/v2/"+repo+"/blobs/uploads/"), nil, "", http.StatusAccepted)
	if err != nil {
		return err
	}
	upload, err := uploadURL(resp, b.Digest)
	if err != nil {
		return err
	}
	resp, err = r.do(ctx, http.MethodPut, upload, b.Data, "application/octet-stream", http.StatusCreated)
	if err != nil {
		return err
	}
	return checkDigest(resp, b.Digest)
}

// uploadURL is where the content of an upload session goes: the session's
// Location (which may be relative to the request) with the digest added.
func uploadURL(resp *http.Response, digest string) (string, error) {
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("upload session without a location: %w", err)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	return loc.String(), nil
}

// putManifest stores m under ref, a tag or m's own digest.
func (r *Registry) putManifest(ctx context.Context, repo, ref string, m Blob) error {
	resp, err := r.do(ctx, http.MethodPut, r.url("/v2/"+repo+"/manifests/"+url.PathEscape(ref)), m.Data, m.MediaType, http.StatusCreated)
	if err != nil {
		return err
	}
	return checkDigest(resp, m.Digest)
}

// checkDigest makes sure the registry stored the bytes that were sent: it
// names what it stored by digest.
func checkDigest(resp *http.Response, want string) error {
	if got := resp.Header.Get("Docker-Content-Digest"); got != want {
		return fmt.Errorf("registry stored %q, want %s", got, want)
	}
	return nil
}

// do sends one request, with basic auth when the registry has a user, and
// fails unless the answer is one of want. The body of the response is
// already consumed and closed: the API's answers are in status and headers.
func (r *Registry) do(ctx context.Context, method, target string, body []byte, contentType string, want ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.password)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if !slices.Contains(want, resp.StatusCode) {
		return nil, fmt.Errorf("%s %s: %s: %s", method, req.URL.Path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}
