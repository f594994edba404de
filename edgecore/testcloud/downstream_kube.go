package testcloud

import (
	"reflect"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// Downstream from the API server, as cloudcore's edgecontroller
// (downstream.go, manager/pod.go, manager/location.go): pods bound to an
// edge node go to that node as insert/update/delete with their
// resourceVersion; configmaps and secrets go only to nodes whose pods use
// them, and only when they change (the edge asks for them otherwise).

// trackNode starts sending node the pods bound to it, once per node.
func (c *Cloud) trackNode(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.Kube == nil || c.tracked[node] {
		return
	}
	c.tracked[node] = true
	c.startConfigInformersLocked()
	factory := informers.NewSharedInformerFactoryWithOptions(c.opts.Kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", node).String()
		}))
	inf := factory.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			pod := obj.(*v1.Pod)
			op := model.InsertOperation
			if pod.DeletionTimestamp != nil {
				op = model.UpdateOperation
			}
			c.podEvent(node, op, pod)
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*v1.Pod), newObj.(*v1.Pod)
			if podUpdated(*old, *cur) {
				c.podEvent(node, model.UpdateOperation, cur)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*v1.Pod); ok {
				c.podEvent(node, model.DeleteOperation, pod)
			}
		},
	})
	factory.Start(c.stop)
}

// podUpdated is cloudcore's isPodUpdated: only metadata or spec changes
// (resourceVersion and generation aside) reach the edge; a status patch
// alone does not, though the managedFields it touches do.
func podUpdated(old, cur v1.Pod) bool {
	old.ResourceVersion = cur.ResourceVersion
	old.Generation = cur.Generation
	return !reflect.DeepEqual(old.ObjectMeta, cur.ObjectMeta) || !reflect.DeepEqual(old.Spec, cur.Spec)
}

func (c *Cloud) podEvent(node, op string, pod *v1.Pod) {
	if op != model.DeleteOperation {
		c.usedBy(node, pod)
	}
	m := model.NewMessage("")
	m.BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, model.BuildResource(pod.Namespace, model.ResourceTypePod, pod.Name), op)
	m.SetResourceVersion(pod.ResourceVersion)
	m.Content = wire(pod)
	if err := c.Send(node, m); err != nil {
		klog.V(2).Infof("testcloud: pod %s/%s to %s: %v", pod.Namespace, pod.Name, node, err)
	}
}

// usedBy records the configmaps and secrets pod refers to (volumes,
// projected sources, env, envFrom, image pull secrets) as used on node.
func (c *Cloud) usedBy(node string, pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	add := func(kind, name string) {
		key := kind + "/" + pod.Namespace + "/" + name
		if c.location[key] == nil {
			c.location[key] = map[string]bool{}
		}
		c.location[key][node] = true
	}
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil {
			add(model.ResourceTypeConfigmap, v.ConfigMap.Name)
		}
		if v.Secret != nil {
			add(model.ResourceTypeSecret, v.Secret.SecretName)
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					add(model.ResourceTypeConfigmap, s.ConfigMap.Name)
				}
				if s.Secret != nil {
					add(model.ResourceTypeSecret, s.Secret.Name)
				}
			}
		}
	}
	for _, s := range pod.Spec.ImagePullSecrets {
		add(model.ResourceTypeSecret, s.Name)
	}
	for _, ctr := range append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, e := range ctr.EnvFrom {
			if e.ConfigMapRef != nil {
				add(model.ResourceTypeConfigmap, e.ConfigMapRef.Name)
			}
			if e.SecretRef != nil {
				add(model.ResourceTypeSecret, e.SecretRef.Name)
			}
		}
		for _, e := range ctr.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add(model.ResourceTypeConfigmap, r.Name)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add(model.ResourceTypeSecret, r.Name)
			}
		}
	}
}

// startConfigInformersLocked watches configmaps and secrets once for the
// whole cloud. Callers hold c.mu.
func (c *Cloud) startConfigInformersLocked() {
	if c.configWatch {
		return
	}
	c.configWatch = true
	factory := informers.NewSharedInformerFactory(c.opts.Kube, 0)
	watch := func(inf cache.SharedIndexInformer, kind string) {
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(_, obj any) { c.configEvent(kind, model.UpdateOperation, obj) },
			DeleteFunc: func(obj any) {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				c.configEvent(kind, model.DeleteOperation, obj)
			},
		})
	}
	watch(factory.Core().V1().ConfigMaps().Informer(), model.ResourceTypeConfigmap)
	watch(factory.Core().V1().Secrets().Informer(), model.ResourceTypeSecret)
	factory.Start(c.stop)
}

func (c *Cloud) configEvent(kind, op string, obj any) {
	meta, ok := obj.(interface {
		GetNamespace() string
		GetName() string
		GetResourceVersion() string
	})
	if !ok {
		return
	}
	key := kind + "/" + meta.GetNamespace() + "/" + meta.GetName()
	c.mu.Lock()
	var nodes []string
	for n := range c.location[key] {
		nodes = append(nodes, n)
	}
	if op == model.DeleteOperation {
		delete(c.location, key)
	}
	c.mu.Unlock()
	for _, node := range nodes {
		m := model.NewMessage("")
		m.BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, model.BuildResource(meta.GetNamespace(), kind, meta.GetName()), op)
		m.SetResourceVersion(meta.GetResourceVersion())
		m.Content = wire(obj)
		if err := c.Send(node, m); err != nil {
			klog.V(2).Infof("testcloud: %s to %s: %v", key, node, err)
		}
	}
}
