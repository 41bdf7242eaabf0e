"""minigrad: a scalar reverse-mode autograd engine built in the course labs."""

from minigrad.scalar import Value

__all__ = ["Value"]
