// Package deploy_test checks the deployment examples in deploy/: that the
// Kubernetes manifests are what the Kubernetes API accepts (decoded
// strictly into the API's own types), fit together (selectors, secrets,
// config mount, probes, scrape annotations), and that the container's
// command line really runs plumb serve with the ConfigMap's plumb.yaml
// against PostgreSQL with the probes and metrics answering; and that the
// systemd unit passes systemd-analyze and starts plumb the same way.
package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"plumb/internal/config"
	"plumb/internal/testenv"
)

var (
	buildOnce sync.Once
	plumbBin  string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// plumb builds the plumb binary once for the package, with the flags of
// a release (static, -trimpath), so the build cache is shared with the
// release and action tests.
func plumb(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "plumb-deploy-test-")
		if buildErr != nil {
			return
		}
		plumbBin = filepath.Join(binDir, "plumb")
		cmd := exec.Command("go", "build", "-trimpath", "-o", plumbBin, "./cmd/plumb")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return plumbBin
}

// documents splits a manifest file into its YAML documents.
func documents(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(d, "")) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// manifests holds the decoded objects of deploy/kubernetes.
type manifests struct {
	deployment     *appsv1.Deployment
	service        *corev1.Service
	configMap      *corev1.ConfigMap
	secret         *corev1.Secret
	serviceAccount *corev1.ServiceAccount
	pdb            *policyv1.PodDisruptionBudget
	kustomization  kustomization
}

type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
	} `json:"labels"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewTag  string `json:"newTag"`
		NewName string `json:"newName"`
	} `json:"images"`
}

// apiVersions are the group versions the manifests must use: the served,
// non-deprecated ones.
var apiVersions = map[string]string{
	"Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1", "ServiceAccount": "v1",
	"PodDisruptionBudget": "policy/v1",
}

// strict decodes a document into the API type, refusing unknown fields
// (the API server's fieldValidation=Strict) and wrong types.
func strict(t *testing.T, where string, doc []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	dir := filepath.Join("kubernetes")
	var m manifests
	strict(t, "kustomization.yaml", documents(t, filepath.Join(dir, "kustomization.yaml"))[0], &m.kustomization)
	files := append(slices.Clone(m.kustomization.Resources), "secret.example.yaml")
	for _, f := range files {
		for i, doc := range documents(t, filepath.Join(dir, f)) {
			where := fmt.Sprintf("%s (document %d)", f, i+1)
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			want, known := apiVersions[head.Kind]
			if !known {
				t.Fatalf("%s: unexpected kind %q", where, head.Kind)
			}
			if head.APIVersion != want {
				t.Errorf("%s: %s apiVersion %q, want %q", where, head.Kind, head.APIVersion, want)
			}
			if head.Metadata.Name == "" {
				t.Errorf("%s: metadata.name is required", where)
			}
			switch head.Kind {
			case "Deployment":
				m.deployment = &appsv1.Deployment{}
				strict(t, where, doc, m.deployment)
			case "Service":
				m.service = &corev1.Service{}
				strict(t, where, doc, m.service)
			case "ConfigMap":
				m.configMap = &corev1.ConfigMap{}
				strict(t, where, doc, m.configMap)
			case "Secret":
				m.secret = &corev1.Secret{}
				strict(t, where, doc, m.secret)
			case "ServiceAccount":
				m.serviceAccount = &corev1.ServiceAccount{}
				strict(t, where, doc, m.serviceAccount)
			case "PodDisruptionBudget":
				m.pdb = &policyv1.PodDisruptionBudget{}
				strict(t, where, doc, m.pdb)
			}
		}
	}
	for what, missing := range map[string]bool{"Deployment": m.deployment == nil, "Service": m.service == nil, "ConfigMap": m.configMap == nil,
		"Secret": m.secret == nil, "ServiceAccount": m.serviceAccount == nil, "PodDisruptionBudget": m.pdb == nil} {
		if missing {
			t.Fatalf("no %s among the manifests", what)
		}
	}
	return m
}

// selects says whether a label selector's matchLabels all hold in labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// container is the plumb container of the Deployment.
func (m manifests) container(t *testing.T) corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return cs[0]
}

// env is the container's environment as Kubernetes would set it, with the
// Secret's values taken from secret.example.yaml.
func (m manifests) env(t *testing.T) map[string]string {
	t.Helper()
	c := m.container(t)
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if ref.Name != m.secret.Name {
				t.Errorf("env %s: Secret %q, the example Secret is %q", e.Name, ref.Name, m.secret.Name)
			}
			v, ok := m.secret.StringData[ref.Key]
			if !ok {
				t.Errorf("env %s: key %q is not in secret.example.yaml", e.Name, ref.Key)
			}
			env[e.Name] = v
		case e.ValueFrom != nil:
			t.Errorf("env %s: only Secret references and plain values are expected", e.Name)
		default:
			env[e.Name] = e.Value
		}
	}
	return env
}

// args expands $(VAR) in the container's args the way the kubelet does.
func expandArgs(t *testing.T, args []string, env map[string]string) []string {
	t.Helper()
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = ref.ReplaceAllStringFunc(a, func(m string) string {
			name := ref.FindStringSubmatch(m)[1]
			v, ok := env[name]
			if !ok {
				t.Errorf("arg %q refers to $(%s), which the container's env does not define", a, name)
			}
			return v
		})
	}
	return out
}

// flagValue returns the value after flag in args.
func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	d := m.deployment
	pod := d.Spec.Template
	c := m.container(t)

	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas %v: want at least 2 (PostgreSQL lets replicas share the work)", d.Spec.Replicas)
	}
	if d.Spec.Selector == nil || !selects(d.Spec.Selector.MatchLabels, pod.Labels) {
		t.Error("the Deployment's selector does not select its own pods")
	}
	if !selects(m.service.Spec.Selector, pod.Labels) {
		t.Error("the Service does not select the pods")
	}
	if m.pdb.Spec.Selector == nil || !selects(m.pdb.Spec.Selector.MatchLabels, pod.Labels) {
		t.Error("the PodDisruptionBudget does not select the pods")
	}
	if m.pdb.Spec.MinAvailable == nil && m.pdb.Spec.MaxUnavailable == nil {
		t.Error("the PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
	}
	if pod.Spec.ServiceAccountName != m.serviceAccount.Name {
		t.Errorf("serviceAccountName %q, the manifest's ServiceAccount is %q", pod.Spec.ServiceAccountName, m.serviceAccount.Name)
	}

	// Ports, probes and scrape annotations meet at the one HTTP port.
	var httpPort int32
	for _, p := range c.Ports {
		if p.Name == "http" {
			httpPort = p.ContainerPort
		}
	}
	if httpPort == 0 {
		t.Fatal("no container port named http")
	}
	for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("%s probe: want an httpGet probe", name)
			continue
		}
		want := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}[name]
		if probe.HTTPGet.Path != want {
			t.Errorf("%s probe path %q, want %q", name, probe.HTTPGet.Path, want)
		}
		if probe.HTTPGet.Port.String() != "http" && probe.HTTPGet.Port.IntValue() != int(httpPort) {
			t.Errorf("%s probe port %s is not the http port", name, probe.HTTPGet.Port.String())
		}
	}
	ann := pod.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" || ann["prometheus.io/port"] != strconv.Itoa(int(httpPort)) {
		t.Errorf("scrape annotations %v, want scrape true, path /metrics, port %d", ann, httpPort)
	}
	if len(m.service.Spec.Ports) == 0 || m.service.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("the Service does not target the http port: %+v", m.service.Spec.Ports)
	}

	// Non-root, read-only root file system, nothing to escalate.
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("pod securityContext: want runAsNonRoot true and a non-zero runAsUser")
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("container securityContext: want readOnlyRootFilesystem, no privilege escalation, all capabilities dropped")
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm
	}
	if _, ok := mounts["/tmp"]; !ok {
		t.Error("the root file system is read-only but /tmp is not mounted")
	}

	// The config file plumb is told to read is the ConfigMap's plumb.yaml.
	env := m.env(t)
	args := expandArgs(t, c.Args, env)
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("args %v: want plumb serve", c.Args)
	}
	cfgPath := flagValue(args, "--config")
	vm, ok := mounts[filepath.Dir(cfgPath)]
	if !ok {
		t.Fatalf("--config %s is not below a volume mount", cfgPath)
	}
	var cmName string
	for _, v := range pod.Spec.Volumes {
		if v.Name == vm.Name && v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	if cmName != m.configMap.Name {
		t.Errorf("the config mount is ConfigMap %q, the manifest's ConfigMap is %q", cmName, m.configMap.Name)
	}
	cfgText, ok := m.configMap.Data[filepath.Base(cfgPath)]
	if !ok {
		t.Fatalf("ConfigMap has no key %s", filepath.Base(cfgPath))
	}
	if !strings.HasPrefix(flagValue(args, "--database"), "postgres://") {
		t.Errorf("--database %q: the manifests run plumb on PostgreSQL", flagValue(args, "--database"))
	}
	// The config loader accepts plumb.yaml with the Deployment's
	// environment: every secret it names is set from the Secret.
	cfg, err := config.Parse(cfgPath, []byte(cfgText), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("plumb.yaml in the ConfigMap: %v", err)
	}
	if cfg.Server.Listen != fmt.Sprintf("0.0.0.0:%d", httpPort) && flagValue(args, "--listen") != fmt.Sprintf("0.0.0.0:%d", httpPort) {
		t.Errorf("plumb listens on %q, not on every interface at the http port %d", cfg.Server.Listen, httpPort)
	}

	// kustomize: every resource exists, the image is the Deployment's.
	k := m.kustomization
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: %s %s", k.APIVersion, k.Kind)
	}
	if slices.Contains(k.Resources, "secret.example.yaml") {
		t.Error("kustomization.yaml applies the example Secret, which would overwrite the real one")
	}
	if len(k.Images) != 1 || !strings.HasPrefix(c.Image, k.Images[0].Name+":") {
		t.Errorf("kustomization images %+v do not name the container image %s", k.Images, c.Image)
	}
}

// freePort is a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int { return testenv.FreePort(t) }

// serve runs plumb with args and env until the test ends, and returns
// its base URL and a function that stops it with SIGTERM and returns its
// exit error.
func serve(t *testing.T, args []string, env map[string]string, port int) (string, func() error) {
	t.Helper()
	cmd := exec.Command(plumb(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_EC2_METADATA_DISABLED=true"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			return fmt.Errorf("plumb serve did not stop within 60s of SIGTERM")
		}
	}
	t.Cleanup(func() {
		_ = stop()
		t.Logf("plumb serve output:\n%s", out.String())
	})
	return fmt.Sprintf("http://127.0.0.1:%d", port), stop
}

// waitStatus polls url until it answers 200 or the deadline passes.
func waitStatus(t *testing.T, url string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			cancel()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			cancel()
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("GET %s: no 200 within %s (last: %s)", url, within, last)
	return ""
}

// TestKubernetesServeRuns runs the container's command line (its args
// with $(VAR) expanded, the ConfigMap mounted, the Secret's example
// values, a real PostgreSQL as database-url) and probes it the way the
// kubelet and Prometheus would.
func TestKubernetesServeRuns(t *testing.T) {
	m := loadManifests(t)
	dsn := testenv.StartPostgres(t)
	c := m.container(t)
	env := m.env(t)
	env["PLUMB_DATABASE_URL"] = dsn

	// The ConfigMap, mounted where the container reads it.
	mount := t.TempDir()
	var cfgMount string
	for _, vm := range c.VolumeMounts {
		for _, v := range m.deployment.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				cfgMount = vm.MountPath
			}
		}
	}
	for k, v := range m.configMap.Data {
		if err := os.WriteFile(filepath.Join(mount, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := expandArgs(t, c.Args, env)
	for i, a := range args {
		if strings.HasPrefix(a, cfgMount+"/") {
			args[i] = filepath.Join(mount, strings.TrimPrefix(a, cfgMount+"/"))
		}
	}
	// The pod's network is its own; here the port must be free on loopback.
	port := freePort(t)
	args = append(args, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	base, stop := serve(t, args, env, port)

	ann := m.deployment.Spec.Template.Annotations
	waitStatus(t, base+c.LivenessProbe.HTTPGet.Path, 90*time.Second)
	waitStatus(t, base+c.ReadinessProbe.HTTPGet.Path, 90*time.Second)
	metrics := waitStatus(t, base+ann["prometheus.io/path"], 30*time.Second)
	if !strings.Contains(metrics, "# TYPE plumb_") {
		t.Errorf("%s is not plumb's Prometheus metrics:\n%.500s", ann["prometheus.io/path"], metrics)
	}
	if err := stop(); err != nil {
		t.Errorf("plumb serve after SIGTERM: %v", err)
	}
}

// unit is a parsed systemd unit file: section -> key -> values (a key may
// repeat).
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" || strings.HasSuffix(l, "\\") {
				t.Fatalf("%s:%d: want KEY=VALUE in a section, got %q", path, n, l)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

// envFile reads KEY=VALUE lines (systemd's EnvironmentFile).
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: %q is not KEY=VALUE", path, l)
		}
		env[k] = v
	}
	return env
}

func TestSystemdUnit(t *testing.T) {
	const unitPath = "systemd/plumb.service"
	u := parseUnit(t, unitPath)
	svc := u["Service"]
	want := map[string]string{
		"DynamicUser": "yes", "ProtectSystem": "strict", "StateDirectory": "plumb", "NoNewPrivileges": "yes",
		"ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "",
		"RestrictSUIDSGID": "yes", "EnvironmentFile": "/etc/plumb/plumb.env", "Restart": "on-failure",
	}
	for k, v := range want {
		if got := svc[k]; len(got) != 1 || got[0] != v {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	if u["Install"]["WantedBy"] == nil {
		t.Error("[Install] WantedBy is missing: systemctl enable would do nothing")
	}
	exec0 := svc["ExecStart"]
	if len(exec0) != 1 {
		t.Fatalf("ExecStart %q", exec0)
	}
	argv := strings.Fields(exec0[0])
	if argv[0] != "/usr/local/bin/plumb" || argv[1] != "serve" || flagValue(argv, "--data-dir") != "${STATE_DIRECTORY}" {
		t.Errorf("ExecStart %q: want /usr/local/bin/plumb serve ... --data-dir ${STATE_DIRECTORY}", exec0[0])
	}
	cfgPath := flagValue(argv, "--config")
	env := envFile(t, "systemd/plumb.env.example")
	cfgData, err := os.ReadFile(filepath.Join("systemd", filepath.Base(cfgPath)))
	if err != nil {
		t.Fatalf("the example config for %s: %v", cfgPath, err)
	}
	if _, err := config.Parse(cfgPath, cfgData, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("systemd/plumb.yaml with plumb.env.example: %v", err)
	}

	t.Run("systemd-analyze", func(t *testing.T) {
		bin := testenv.Require(t, "systemd-analyze")
		// verify checks that ExecStart's binary and the EnvironmentFile
		// exist: point them at files that do.
		dir := t.TempDir()
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(unitPath)
		text := strings.Replace(string(data), "ExecStart=/usr/local/bin/plumb", "ExecStart="+self, 1)
		text = strings.Replace(text, "EnvironmentFile=/etc/plumb/plumb.env", "EnvironmentFile="+filepath.Join(dir, "plumb.env"), 1)
		if err := os.WriteFile(filepath.Join(dir, "plumb.env"), []byte("A=b\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "plumb.service"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "verify", "./plumb.service")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		// verify exits 0 even for unknown keys, which it only prints:
		// anything it says about the unit is a failure.
		if err != nil || strings.Contains(string(out), "plumb.service") {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
		cmd = exec.Command(bin, "security", "--offline=yes", "./plumb.service")
		cmd.Dir = dir
		out, _ = cmd.CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for plumb.service: ([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
		}
		if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
			t.Errorf("exposure level %s, want at most 2.0 (OK):\n%s", m[1], out)
		}
	})

	t.Run("ExecStart runs", func(t *testing.T) {
		// What systemd would run: STATE_DIRECTORY set, the EnvironmentFile
		// loaded, the config at its place.
		state := t.TempDir()
		cfgDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(cfgDir, "plumb.yaml"), cfgData, 0o644); err != nil {
			t.Fatal(err)
		}
		args := make([]string, 0, len(argv))
		for _, a := range argv[1:] {
			a = strings.ReplaceAll(a, "${STATE_DIRECTORY}", state)
			if a == cfgPath {
				a = filepath.Join(cfgDir, "plumb.yaml")
			}
			args = append(args, a)
		}
		port := freePort(t)
		args = append(args, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
		base, stop := serve(t, args, env, port)
		waitStatus(t, base+"/healthz", 90*time.Second)
		waitStatus(t, base+"/readyz", 90*time.Second)
		entries, _ := os.ReadDir(state)
		if len(entries) == 0 {
			t.Error("nothing written to the state directory: the SQLite store is elsewhere")
		}
		if err := stop(); err != nil {
			t.Errorf("plumb serve after SIGTERM: %v", err)
		}
	})
}
