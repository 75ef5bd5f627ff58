package procpods

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/firedrill/firedrill/e2e/framework/podnet"
)

// containerProcess is what the node agent runs for a pod: one process per
// pod, from its only container.
type containerProcess struct {
	// name is the container's name.
	name string
	// path and args are the executable and its arguments, with $(VAR)
	// references expanded and volume paths rewritten.
	path string
	args []string
	// env is the process's whole environment.
	env []string
	// dirs are the host directories of the container's volumes, created
	// before it starts.
	dirs []string
	// probe is the readiness probe; nil means ready once started.
	probe *httpProbe
	// preStopSleep is the preStop sleep hook's duration in seconds.
	preStopSleep int64
}

// httpProbe is a readiness probe resolved to an address.
type httpProbe struct {
	url                                string
	period, timeout                    int32
	initialDelay                       int32
	successThreshold, failureThreshold int32
}

// podEnv is what the agent knows about a pod beyond its spec.
type podEnv struct {
	// image is the loopback image of the pod's IP, where its process
	// listens.
	image string
	// nodeDir holds the node's hostPath volumes; podDir the pod's emptyDir
	// volumes; nfsDir every NFS export, by server and path.
	nodeDir, podDir, nfsDir string
	// executables maps a command's first word to a binary.
	executables map[string]string
	// services are the service link variables of the pod's namespace.
	services map[string]string
	// base is the environment every process starts from.
	base []string
}

// errUnsupported is wrapped by every refusal of a pod spec the agent
// cannot run faithfully.
var errUnsupported = errors.New("not supported by the e2e node agent")

// buildProcess turns a pod into the process the agent runs for it, as a
// kubelet would run its container: the command resolved through the
// agent's executables, $(VAR) references expanded from the container's env
// (values, downward API fields) and the namespace's service links, and
// volume mounts made host directories. A process has no mount namespace,
// so a path under a mount's mountPath in an argument or env value (the
// whole value or the part after its first "=") is rewritten to the
// volume's directory.
func buildProcess(pod *corev1.Pod, pe podEnv) (*containerProcess, error) {
	if len(pod.Spec.Containers) != 1 || len(pod.Spec.InitContainers) != 0 {
		return nil, fmt.Errorf("pod %s/%s has %d containers and %d init containers; one container: %w",
			pod.Namespace, pod.Name, len(pod.Spec.Containers), len(pod.Spec.InitContainers), errUnsupported)
	}
	ctr := pod.Spec.Containers[0]
	if ctr.LivenessProbe != nil || ctr.StartupProbe != nil {
		return nil, fmt.Errorf("container %s: liveness and startup probes: %w", ctr.Name, errUnsupported)
	}
	if len(ctr.Command) == 0 {
		return nil, fmt.Errorf("container %s: a command is required (the image's entrypoint is unknown here): %w", ctr.Name, errUnsupported)
	}
	bin, ok := pe.executables[ctr.Command[0]]
	if !ok {
		return nil, fmt.Errorf("container %s: command %q is not one of the agent's executables: %w", ctr.Name, ctr.Command[0], errUnsupported)
	}
	mounts, dirs, err := volumeDirs(pod, ctr, pe)
	if err != nil {
		return nil, err
	}

	// The container's own variables, in order, each able to refer to the
	// ones before it and to the service links.
	vars := map[string]string{}
	lookup := func(name string) (string, bool) {
		if v, ok := vars[name]; ok {
			return v, true
		}
		v, ok := pe.services[name]
		return v, ok
	}
	var ctrEnv []string
	for _, e := range ctr.Env {
		v := e.Value
		switch {
		case e.ValueFrom == nil:
			v = rewritePaths(expandVars(v, lookup), mounts)
		case e.ValueFrom.FieldRef != nil:
			if v, err = fieldValue(pod, pe, e.ValueFrom.FieldRef.FieldPath); err != nil {
				return nil, fmt.Errorf("container %s: env %s: %w", ctr.Name, e.Name, err)
			}
		default:
			return nil, fmt.Errorf("container %s: env %s: only values and fieldRef: %w", ctr.Name, e.Name, errUnsupported)
		}
		vars[e.Name] = v
		ctrEnv = append(ctrEnv, e.Name+"="+v)
	}
	if len(ctr.EnvFrom) > 0 {
		return nil, fmt.Errorf("container %s: envFrom: %w", ctr.Name, errUnsupported)
	}

	p := &containerProcess{name: ctr.Name, path: bin, dirs: dirs}
	for _, a := range append(slices.Clone(ctr.Command[1:]), ctr.Args...) {
		p.args = append(p.args, rewritePaths(expandVars(a, lookup), mounts))
	}
	p.env = slices.Clone(pe.base)
	for _, k := range slices.Sorted(maps.Keys(pe.services)) {
		p.env = append(p.env, k+"="+pe.services[k])
	}
	p.env = append(p.env, "HOSTNAME="+pod.Name)
	p.env = append(p.env, ctrEnv...)

	if rp := ctr.ReadinessProbe; rp != nil {
		if p.probe, err = readinessProbe(rp, ctr, pe.image); err != nil {
			return nil, err
		}
	}
	if l := ctr.Lifecycle; l != nil && l.PreStop != nil {
		if l.PreStop.Sleep == nil {
			return nil, fmt.Errorf("container %s: preStop hooks other than sleep: %w", ctr.Name, errUnsupported)
		}
		p.preStopSleep = l.PreStop.Sleep.Seconds
	}
	return p, nil
}

// mount is a container path and the host directory behind it.
type mount struct{ path, dir string }

// volumeDirs maps the container's volume mounts to host directories:
// hostPath under the node's directory, emptyDir under the pod's, nfs under
// the cluster-wide NFS directory (any node sees the same files).
func volumeDirs(pod *corev1.Pod, ctr corev1.Container, pe podEnv) ([]mount, []string, error) {
	byName := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.HostPath != nil:
			byName[v.Name] = filepath.Join(pe.nodeDir, filepath.FromSlash(path.Clean("/"+v.HostPath.Path)))
		case v.EmptyDir != nil:
			byName[v.Name] = filepath.Join(pe.podDir, "volumes", v.Name)
		case v.NFS != nil:
			byName[v.Name] = filepath.Join(pe.nfsDir, v.NFS.Server, filepath.FromSlash(path.Clean("/"+v.NFS.Path)))
		}
	}
	var mounts []mount
	var dirs []string
	for _, m := range ctr.VolumeMounts {
		dir, ok := byName[m.Name]
		if !ok {
			return nil, nil, fmt.Errorf("container %s: volume %s: only hostPath, emptyDir and nfs volumes: %w", ctr.Name, m.Name, errUnsupported)
		}
		if m.SubPath != "" {
			dir = filepath.Join(dir, filepath.FromSlash(path.Clean("/"+m.SubPath)))
		}
		mounts = append(mounts, mount{path: path.Clean(m.MountPath), dir: dir})
		dirs = append(dirs, dir)
	}
	// The longest mount path wins, as the innermost mount would.
	slices.SortFunc(mounts, func(a, b mount) int { return len(b.path) - len(a.path) })
	return mounts, dirs, nil
}

// rewritePaths rewrites a path under a mount's path, as the whole of s or
// after its first "=" (a --flag=value argument), to the mount's directory.
func rewritePaths(s string, mounts []mount) string {
	if len(mounts) == 0 {
		return s
	}
	prefix, value := "", s
	if i := strings.IndexByte(s, '='); i >= 0 && !strings.HasPrefix(s, "/") {
		prefix, value = s[:i+1], s[i+1:]
	}
	for _, m := range mounts {
		if value == m.path {
			return prefix + m.dir
		}
		if rest, ok := strings.CutPrefix(value, m.path+"/"); ok {
			return prefix + filepath.Join(m.dir, filepath.FromSlash(rest))
		}
	}
	return s
}

// fieldValue resolves a downward API field. The pod's IPs are their
// loopback images: that is the address the pod's process has.
func fieldValue(pod *corev1.Pod, pe podEnv, field string) (string, error) {
	switch field {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return pe.image, nil
	case "status.hostIP", "status.hostIPs":
		return podnet.NodeIP, nil
	}
	if k, ok := strings.CutPrefix(field, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(field, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	return "", fmt.Errorf("field %s: %w", field, errUnsupported)
}

// readinessProbe resolves an httpGet readiness probe to a URL on the pod's
// image, with the API's defaults for unset numbers.
func readinessProbe(rp *corev1.Probe, ctr corev1.Container, image string) (*httpProbe, error) {
	g := rp.HTTPGet
	if g == nil {
		return nil, fmt.Errorf("container %s: readiness probes other than httpGet: %w", ctr.Name, errUnsupported)
	}
	if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
		return nil, fmt.Errorf("container %s: readiness probe scheme %s: %w", ctr.Name, g.Scheme, errUnsupported)
	}
	port, err := containerPort(ctr, g.Port)
	if err != nil {
		return nil, err
	}
	if g.Host != "" {
		return nil, fmt.Errorf("container %s: a readiness probe host: %w", ctr.Name, errUnsupported)
	}
	p := &httpProbe{
		url:              "http://" + image + ":" + strconv.Itoa(int(port)) + path.Clean("/"+g.Path),
		period:           orDefault(rp.PeriodSeconds, 10),
		timeout:          orDefault(rp.TimeoutSeconds, 1),
		initialDelay:     rp.InitialDelaySeconds,
		successThreshold: orDefault(rp.SuccessThreshold, 1),
		failureThreshold: orDefault(rp.FailureThreshold, 3),
	}
	return p, nil
}

// containerPort resolves a probe's port, a number or a container port's
// name.
func containerPort(ctr corev1.Container, port intstr.IntOrString) (int32, error) {
	if port.Type == intstr.Int {
		return port.IntVal, nil
	}
	for _, p := range ctr.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", ctr.Name, port.StrVal)
}

func orDefault(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}
