"""The [arrow] options of nova.conf: where virtarrowd is and what an image's
properties may ask of the host. Both host-facing properties are refused
unless the operator allows them, since any user may upload an image."""

from oslo_config import cfg

arrow_group = cfg.OptGroup(
    "arrow", title="Arrow options",
    help="Options of the Arrow compute driver (arrow_nova.driver.ArrowDriver).")

ARROW_OPTS = [
    cfg.StrOpt(
        "connection_uri", default="arrow:///system",
        help="The libvirt URI of virtarrowd. A URI of another scheme is "
             "refused at start: this driver writes Arrow domain XML only."),
    cfg.BoolOpt(
        "allow_port_forwards", default=False,
        help="Whether the image property arrow_ports may forward ports of "
             "127.0.0.1 on the compute host into an Arrow. Off by default: "
             "an image's owner would otherwise pick host ports."),
    cfg.ListOpt(
        "share_roots", default=[],
        help="Host directories under which the image property arrow_shares "
             "may share a directory with an Arrow (absolute paths; the "
             "share's real path, symbolic links resolved, must lie under "
             "one). Empty (the default): arrow_shares is refused."),
]


def register_opts(conf):
    conf.register_group(arrow_group)
    conf.register_opts(ARROW_OPTS, group=arrow_group)


def list_opts():
    """For oslo-config-generator."""
    return {arrow_group: ARROW_OPTS}
