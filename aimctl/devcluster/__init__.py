"""The local development cluster: real Kubernetes built from Go modules, run as processes on loopback.

No container runtime is needed. ``aimctl dev cluster up`` builds (once, cached outside the repository)
and starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, generates the
certificates and kubeconfigs, installs the upstream CRDs and registers simulated GPU nodes. The same
implementation serves the README, the pytest fixtures and the benchmarks.
"""
