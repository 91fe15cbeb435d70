from distill.registry import Registry

METHODS: Registry = Registry("method")
