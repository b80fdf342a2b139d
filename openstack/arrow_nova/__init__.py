"""arrow_nova: an OpenStack Nova compute driver that runs each Nova instance
as an Arrow, through Nova's own libvirt driver pointed at virtarrowd.

Load it with `[DEFAULT] compute_driver = arrow_nova.driver.ArrowDriver`
(see openstack/README.md)."""
