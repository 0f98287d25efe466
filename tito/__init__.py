"""tito: the tinytorch course tool (export, release, check, grade). One pipeline step per file."""
