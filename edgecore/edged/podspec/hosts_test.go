package podspec

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestHostname(t *testing.T) {
	long := strings.Repeat("a", 60) + "-b.c" // the cut at 63 leaves "...a-b."
	cases := []struct {
		name string
		pod  v1.Pod
		want string
	}{
		{"pod name", v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0"}}, "web-0"},
		{"spec.hostname", v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0"}, Spec: v1.PodSpec{Hostname: "db"}}, "db"},
		{"hostnameOverride wins", v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0"}, Spec: v1.PodSpec{Hostname: "db", HostnameOverride: ptr.To("my.host")}}, "my.host"},
		{"exactly 63 kept", v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("x", 63)}}, strings.Repeat("x", 63)},
		{"truncated with trailing - and . trimmed", v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: long}}, strings.Repeat("a", 60) + "-b"},
		{"truncated and trimmed back over several", v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 61) + "-.-x"}}, strings.Repeat("a", 61)},
	}
	for _, tc := range cases {
		if got := Hostname(&tc.pod); got != tc.want {
			t.Errorf("%s: Hostname = %q, want %q", tc.name, got, tc.want)
		}
	}
}

const hostsHeader = "# Kubernetes-managed hosts file.\n" +
	"127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"fe00::0\tip6-mcastprefix\n" +
	"fe00::1\tip6-allnodes\n" +
	"fe00::2\tip6-allrouters\n"

func TestEtcHostsContent(t *testing.T) {
	aliases := []v1.HostAlias{
		{IP: "10.0.0.1", Hostnames: []string{"a.example", "b.example"}},
		{IP: "fd00::1", Hostnames: []string{"c.example"}},
	}
	cases := []struct {
		name   string
		pod    v1.Pod
		ips    []string
		domain string
		want   string
	}{{
		name: "plain",
		pod:  v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}},
		ips:  []string{"10.88.0.5"},
		want: hostsHeader + "10.88.0.5\tweb-0\n",
	}, {
		name: "no IP yet",
		pod:  v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}},
		want: hostsHeader,
	}, {
		name:   "subdomain, two IPs, aliases",
		pod:    v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: v1.PodSpec{Hostname: "h", Subdomain: "svc1", HostAliases: aliases}},
		ips:    []string{"10.88.0.5", "fd00::5"},
		domain: "cluster.local",
		want: hostsHeader +
			"10.88.0.5\th.svc1.ns.svc.cluster.local\th\n" +
			"fd00::5\th.svc1.ns.svc.cluster.local\th\n" +
			"\n# Entries added by HostAliases.\n" +
			"10.0.0.1\ta.example\tb.example\n" +
			"fd00::1\tc.example\n",
	}, {
		name:   "hostnameOverride has no domain",
		pod:    v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: v1.PodSpec{Subdomain: "svc1", HostnameOverride: ptr.To("over")}},
		ips:    []string{"10.88.0.5"},
		domain: "cluster.local",
		want:   hostsHeader + "10.88.0.5\tover\n",
	}}
	for _, tc := range cases {
		if got := string(EtcHostsContent(&tc.pod, tc.ips, tc.domain)); got != tc.want {
			t.Errorf("%s: EtcHostsContent =\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

func TestNodeEtcHostsContent(t *testing.T) {
	node := []byte("127.0.0.1 localhost\n192.168.1.2 gw1\n")
	pod := &v1.Pod{Spec: v1.PodSpec{HostNetwork: true, HostAliases: []v1.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"a"}}}}}
	want := "# Kubernetes-managed hosts file (host network).\n" + string(node) +
		"\n# Entries added by HostAliases.\n10.0.0.1\ta\n"
	if got := string(NodeEtcHostsContent(node, pod)); got != want {
		t.Errorf("NodeEtcHostsContent =\n%s\nwant\n%s", got, want)
	}
	if got := string(NodeEtcHostsContent(node, &v1.Pod{})); got != "# Kubernetes-managed hosts file (host network).\n"+string(node) {
		t.Errorf("without aliases: %q", got)
	}
}
