"""ArrowHost: Nova's libvirt Host, asking virtarrowd's domain capabilities
for what an Arrow is (virttype 'arrow', machine 'microvm') instead of
[libvirt] virt_type and Nova's default machine type for the architecture,
which virtarrowd refuses."""

import libvirt
from oslo_log import log as logging

from nova.virt.libvirt import host as libvirt_host

LOG = logging.getLogger(__name__)

VIRT_TYPE = "arrow"
MACHINE = "microvm"


class ArrowHost(libvirt_host.Host):

    def _get_machine_types(self, arch, domain):
        return {MACHINE}

    def _add_to_domain_capabilities(self, emulator_bin, arch, domain_caps, machine_type, virt_type):
        super()._add_to_domain_capabilities(emulator_bin, arch, domain_caps, MACHINE, VIRT_TYPE)

    def close(self):
        """Closes the connection on purpose (the compute service stops),
        without the "connection lost" event that would disable the service."""
        with self._wrapped_conn_lock:
            conn, self._wrapped_conn = self._wrapped_conn, None
        if conn is None:
            return
        for call in (conn.unregisterCloseCallback, conn.close):
            try:
                call()
            except libvirt.libvirtError as e:
                LOG.debug("closing the connection to virtarrowd: %s", e)
