"""Pure builders: a custom resource in, the Kubernetes objects it wants out."""
