"""nova.virt.arrow: where Nova finds the Arrow compute driver. Nova imports
compute_driver from its own nova.virt package (`compute_driver =
arrow.ArrowDriver` loads nova.virt.arrow.ArrowDriver), so `make install`
puts this one file into Nova's tree; the driver itself is arrow_nova."""

from arrow_nova.driver import ArrowDriver

__all__ = ["ArrowDriver"]
