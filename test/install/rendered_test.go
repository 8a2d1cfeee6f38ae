/*
Copyright 2026 The openai-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package install

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	receiver "github.com/openai-operator/openai-operator/webhook-receiver"
)

// as converts a rendered object to its typed form.
func as[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

// flagValue returns the value of --name in args, or "".
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// TestRenderedReceiverDeployment checks what the receiver's manifests promise, as
// kustomize renders them: the grace period covers the preStop sleep, the drain and the
// requests in flight, the disruption budget never blocks a drain on an unhealthy
// receiver, the Secret the receiver watches is the one its Role names and its volume
// mounts, and both Deployments pass the container's memory limit to the Go runtime.
func TestRenderedReceiverDeployment(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "default")
	deploy := as[appsv1.Deployment](t, find(t, objs, "Deployment", "webhook-receiver"))
	pod := deploy.Spec.Template.Spec
	c := pod.Containers[0]

	drain, err := time.ParseDuration(flagValue(c.Args, "drain-period"))
	g.Expect(err).NotTo(HaveOccurred(), "the Deployment sets --drain-period")
	g.Expect(drain).To(BeNumerically(">=", 5*time.Second), "long enough for endpoints and ingress controllers to move away")
	needed := receiver.Options{DrainPeriod: drain}.ShutdownTimeout()
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		needed += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	g.Expect(pod.TerminationGracePeriodSeconds).NotTo(BeNil())
	g.Expect(time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second).To(BeNumerically(">", needed),
		"terminationGracePeriodSeconds covers the preStop sleep, the drain and the requests in flight (%s)", needed)

	pdb := as[policyv1.PodDisruptionBudget](t, find(t, objs, "PodDisruptionBudget", "webhook-receiver"))
	g.Expect(pdb.Spec.UnhealthyPodEvictionPolicy).NotTo(BeNil())
	g.Expect(*pdb.Spec.UnhealthyPodEvictionPolicy).To(Equal(policyv1.AlwaysAllow))

	secretName := flagValue(c.Args, "signing-secret-name")
	g.Expect(secretName).NotTo(BeEmpty())
	var mounted string
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			mounted = v.Secret.SecretName
		}
	}
	g.Expect(mounted).To(Equal(secretName), "the mounted Secret is the watched one")
	role := as[rbacv1.Role](t, find(t, objs, "Role", "webhook-receiver-secret-role"))
	g.Expect(role.Rules).To(HaveLen(1))
	g.Expect(role.Rules[0].ResourceNames).To(Equal([]string{secretName}), "the Role allows that Secret only")
	g.Expect(role.Rules[0].Verbs).To(ConsistOf("get", "list", "watch"))
	g.Expect(role.Namespace).To(Equal(deploy.Namespace))
	g.Expect(envSource(c.Env, "POD_NAMESPACE").FieldRef.FieldPath).To(Equal("metadata.namespace"))

	for _, suffix := range []string{"webhook-receiver", "controller-manager"} {
		d := as[appsv1.Deployment](t, find(t, objs, "Deployment", suffix))
		ref := envSource(d.Spec.Template.Spec.Containers[0].Env, "MEMORY_LIMIT").ResourceFieldRef
		g.Expect(ref).NotTo(BeNil(), suffix)
		g.Expect(ref.Resource).To(Equal("limits.memory"))
		g.Expect(ref.Divisor.String()).To(Equal("1"), "in bytes")
	}
}

func envSource(env []corev1.EnvVar, name string) *corev1.EnvVarSource {
	for _, e := range env {
		if e.Name == name && e.ValueFrom != nil {
			return e.ValueFrom
		}
	}
	return &corev1.EnvVarSource{}
}

// TestRenderedNetworkPolicy checks that the optional network policy admits webhook
// deliveries only from namespaces carrying the documented label, and metrics scrapes
// only on the receiver's HTTPS port.
func TestRenderedNetworkPolicy(t *testing.T) {
	g := NewWithT(t)
	np := as[networkingv1.NetworkPolicy](t, find(t, render(t, "network-policy"), "NetworkPolicy", "allow-webhook-receiver-traffic"))
	ports := map[int32]map[string]string{}
	for _, rule := range np.Spec.Ingress {
		g.Expect(rule.From).NotTo(BeEmpty(), "every port is restricted to some namespaces")
		for _, p := range rule.Ports {
			ports[p.Port.IntVal] = rule.From[0].NamespaceSelector.MatchLabels
		}
	}
	g.Expect(ports).To(HaveKeyWithValue(int32(9000), map[string]string{"openai.operator.dev/webhook-ingress": "true"}))
	g.Expect(ports).To(HaveKeyWithValue(int32(8443), map[string]string{"metrics": "enabled"}))
	g.Expect(ports).To(HaveLen(2))
}

// TestRenderedMetricsCertificates checks that config/certmanager gives each binary a
// metrics certificate for its metrics Service's DNS name, that each serves it
// (--metrics-cert-path is where the certificate's Secret is mounted), and that the
// ServiceMonitors in config/prometheus verify each against that Secret's CA.
func TestRenderedMetricsCertificates(t *testing.T) {
	g := NewWithT(t)
	objs := render(t, "certmanager")
	monitors := render(t, "prometheus")
	for _, c := range []struct{ deployment, service, monitor string }{
		{"controller-manager", "controller-manager-metrics-service", "controller-manager-metrics-monitor"},
		{"webhook-receiver", "webhook-receiver-metrics-service", "webhook-receiver-metrics-monitor"},
	} {
		deploy := as[appsv1.Deployment](t, find(t, objs, "Deployment", c.deployment))
		pod := deploy.Spec.Template.Spec
		path := flagValue(pod.Containers[0].Args, "metrics-cert-path")
		g.Expect(path).NotTo(BeEmpty(), "%s serves a mounted certificate", c.deployment)
		var volume string
		for _, m := range pod.Containers[0].VolumeMounts {
			if m.MountPath == path {
				volume = m.Name
			}
		}
		var secretName string
		for _, v := range pod.Volumes {
			if v.Name == volume && v.Secret != nil {
				secretName = v.Secret.SecretName
			}
		}
		g.Expect(secretName).NotTo(BeEmpty(), "%s mounts a Secret at %s", c.deployment, path)

		service := find(t, objs, "Service", c.service)
		dnsName := service.GetName() + "." + service.GetNamespace() + ".svc"
		var certificate *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "Certificate" {
				if name, _, _ := unstructured.NestedString(o.Object, "spec", "secretName"); name == secretName {
					certificate = o
				}
			}
		}
		g.Expect(certificate).NotTo(BeNil(), "a Certificate fills %s's Secret %s", c.deployment, secretName)
		dnsNames, _, _ := unstructured.NestedStringSlice(certificate.Object, "spec", "dnsNames")
		g.Expect(dnsNames).To(ContainElement(dnsName), "%s's certificate names its metrics Service", c.deployment)

		endpoints, _, _ := unstructured.NestedSlice(find(t, monitors, "ServiceMonitor", c.monitor).Object, "spec", "endpoints")
		g.Expect(endpoints).To(HaveLen(1))
		tlsConfig := endpoints[0].(map[string]any)["tlsConfig"].(map[string]any)
		g.Expect(tlsConfig["insecureSkipVerify"]).To(BeFalse(), c.monitor)
		g.Expect(tlsConfig["serverName"]).To(Equal(dnsName), c.monitor)
		ca, _, _ := unstructured.NestedString(tlsConfig, "ca", "secret", "name")
		g.Expect(ca).To(Equal(secretName), "%s verifies against the CA of the Secret served", c.monitor)
	}
}
