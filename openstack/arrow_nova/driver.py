"""ArrowDriver: Nova's libvirt driver, pointed at virtarrowd, where a Nova
instance is an Arrow. It keeps everything of LibvirtDriver that holds for
an Arrow (the Host and its connection, events and resource reporting,
VIF plugging, define/launch/shutdown/destroy/undefine, reboot, power,
pause) and replaces what generates domain XML and what an Arrow cannot do:
those calls raise Nova's own exception types, saying why."""

import libvirt
from oslo_log import log as logging
from oslo_service import loopingcall

from nova import exception
from nova.compute import power_state
from nova.objects import fields
from nova.virt import configdrive
from nova.virt import driver as virt_driver
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt import vif as libvirt_vif

import nova.conf
from arrow_nova import conf as arrow_conf
from arrow_nova import console
from arrow_nova import guest_xml
from arrow_nova import host as arrow_host
from arrow_nova import properties

CONF = nova.conf.CONF
arrow_conf.register_opts(CONF)
LOG = logging.getLogger(__name__)

# Nova keeps an image's properties in the instance's system metadata so.
IMAGE_PREFIX = "image_"
MAX_VCPUS = 8          # the Arrow kernel's NR_CPUS (domain-xml/README.md, <vcpu>)
MIN_MEMORY_MB = 16     # ibid., <memory>
MAX_MEMORY_MB = 1024 * 1024


def _refused(what, why):
    """Nova's NotSupported (HTTP 400 where the API maps it), worded for an Arrow."""
    return exception.NotSupported(message=f"{what} is not supported for an Arrow: {why}")


class ArrowDriver(libvirt_driver.LibvirtDriver):
    """A Nova compute driver whose instances are Arrows."""

    # What an Arrow can do, for the scheduler's capability traits; the rest
    # of LibvirtDriver's table stands.
    ARROW_CAPABILITIES = {
        "has_imagecache": False,           # an Arrow boots no image file
        "supports_attach_interface": False,
        "supports_device_tagging": False,
        "supports_tagged_attach_interface": False,
        "supports_tagged_attach_volume": False,
        "supports_extend_volume": False,
        "supports_multiattach": False,
        "supports_trusted_certs": False,
        "supports_pcpus": False,
        "supports_accelerators": False,
        "supports_bfv_rescue": False,
        "supports_vtpm": False,
        "supports_socket_pci_numa_affinity": False,
        "supports_image_type_aki": False,
        "supports_image_type_ari": False,
        "supports_image_type_ami": False,
        "supports_image_type_iso": False,
        "supports_image_type_ploop": False,
    }

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        self.capabilities.update(self.ARROW_CAPABILITIES)
        # LibvirtDriver built a plain Host (nothing connects before
        # init_host): the Arrow one replaces it, and the VIF driver that holds it.
        self._host = arrow_host.ArrowHost(self._uri(), read_only, lifecycle_event_handler=self.emit_event,
                                          conn_event_handler=self._handle_conn_event)
        self.vif_driver = libvirt_vif.LibvirtGenericVIFDriver(self._host)

    @staticmethod
    def _uri():
        return CONF.arrow.connection_uri

    # ---- start-up and host -------------------------------------------------

    def init_host(self, host):
        uri = CONF.arrow.connection_uri
        if not uri.startswith("arrow"):
            raise exception.InvalidConfiguration(
                f"[arrow] connection_uri '{uri}' is not an arrow:// URI: the Arrow driver "
                f"talks to virtarrowd only")
        super().init_host(host)
        caps = self._host.get_capabilities()
        if not any("arrow" in g.domains for g in caps.guests):
            raise exception.InvalidConfiguration(
                f"the libvirt daemon at '{uri}' offers no domain type 'arrow': is it virtarrowd?")

    def cleanup_host(self, host):
        self._host.close()

    def _update_host_specific_capabilities(self):
        super()._update_host_specific_capabilities()
        # An Arrow boots a kernel directly: no firmware, no remote-managed ports.
        self.capabilities.update({"supports_secure_boot": False, "supports_remote_managed_ports": False})

    def _get_instance_capabilities(self):
        """(arch, hypervisor type, vm mode) per guest of the capabilities:
        an Arrow is a QEMU guest running one executable (libvirt's 'exe')."""
        out = []
        for g in self._host.get_capabilities().guests:
            if "arrow" in g.domains:
                out.append((fields.Architecture.canonicalize(g.arch), fields.HVType.QEMU, fields.VMMode.EXE))
        return out

    def _get_pci_passthrough_devices(self):
        # An Arrow takes no PCI device (its machine has no PCI bus): nothing
        # to list, and no node-device call to make.
        return "[]"

    # ---- the domain XML ------------------------------------------------------

    def _image_properties(self, instance):
        sysmeta = instance.system_metadata or {}
        return {k[len(IMAGE_PREFIX):]: v for k, v in sysmeta.items()
                if k.startswith(IMAGE_PREFIX + "arrow_")}

    def _arrow_spec(self, instance):
        policy = properties.HostPolicy(allow_port_forwards=CONF.arrow.allow_port_forwards,
                                       share_roots=tuple(CONF.arrow.share_roots))
        try:
            return properties.parse_properties(self._image_properties(instance), policy)
        except properties.PropertyError as e:
            raise exception.ImageUnacceptable(image_id=instance.image_ref, reason=str(e))

    def _check_flavor(self, instance):
        flavor = instance.flavor
        if flavor.vcpus > MAX_VCPUS:
            raise exception.InvalidInput(
                reason=f"flavor {flavor.name} has {flavor.vcpus} vCPUs; an Arrow has at most {MAX_VCPUS}")
        if not MIN_MEMORY_MB <= flavor.memory_mb <= MAX_MEMORY_MB:
            raise exception.InvalidInput(
                reason=f"flavor {flavor.name} has {flavor.memory_mb} MiB of memory; an Arrow has "
                       f"{MIN_MEMORY_MB} MiB to {MAX_MEMORY_MB} MiB")
        if flavor.swap or flavor.ephemeral_gb:
            raise exception.InvalidInput(
                reason=f"flavor {flavor.name} asks for swap or an ephemeral disk; an Arrow has no disks")

    def _arrow_interface(self, instance, image_meta, network_info, spec):
        """The one bridge interface of NETWORK_INFO, None without ports."""
        if not network_info:
            return None
        if len(network_info) > 1:
            raise exception.InvalidInput(
                reason=f"an Arrow has one network interface; {len(network_info)} ports were given")
        if spec.ports:
            raise exception.InvalidInput(
                reason="image property arrow_ports needs an Arrow without Neutron ports (boot with "
                       "networks 'none'): a bridged Arrow is reached at its own address")
        vif = network_info[0]
        cfg = self.vif_driver.get_config(instance, vif, image_meta, instance.flavor, CONF.libvirt.virt_type)
        # A Linux bridge only: not OVS's own bridge (a <virtualport>), nor
        # macvtap, vhost-user or a PCI device.
        if cfg.net_type != "bridge" or not cfg.source_dev or cfg.vporttype:
            raise exception.InvalidInput(
                reason=f"port {vif['id']} is of VIF type '{vif['type']}' ({cfg.net_type}"
                       f"{', ' + cfg.vporttype if cfg.vporttype else ''}); an Arrow joins a Linux bridge only "
                       f"(Neutron's linuxbridge agent, or OVS with hybrid plugging)")
        for subnet in vif["network"]["subnets"]:
            if subnet["version"] == 4 and subnet["ips"]:
                gateway = subnet["gateway"]["address"] if subnet.get("gateway") else None
                prefix = int(subnet["cidr"].split("/")[1])
                return guest_xml.BridgeInterface(bridge=cfg.source_dev, mac=vif["address"],
                                                 address=subnet["ips"][0]["address"], prefix=prefix,
                                                 gateway=gateway)
        raise exception.InvalidInput(
            reason=f"port {vif['id']} has no IPv4 address; an Arrow's address is static (no DHCP client)")

    def _get_guest_xml(self, context, instance, network_info, disk_info, image_meta, rescue=None,
                       block_device_info=None, mdevs=None, accel_info=None):
        if rescue:
            raise exception.InstanceNotRescuable(instance_id=instance.uuid, reason="an Arrow has no disk to rescue")
        self._check_flavor(instance)
        spec = self._arrow_spec(instance)
        bridge = self._arrow_interface(instance, image_meta, network_info or [], spec)
        meta = self._get_guest_config_meta(instance, network_info or []).format_dom()
        xml = guest_xml.domain_xml(name=instance.name, uuid=instance.uuid, memory_mib=instance.flavor.memory_mb,
                                   vcpus=instance.flavor.vcpus, spec=spec, bridge=bridge, metadata=[meta],
                                   user_mac=guest_xml.mac_of(instance.uuid))
        LOG.debug("Arrow domain XML:\n%s", xml, instance=instance)
        return xml

    def _get_existing_domain_xml(self, instance, network_info, block_device_info=None):
        # Always from the instance: the live XML read without
        # VIR_DOMAIN_XML_SECURE has the <initenv> values blanked.
        return self._get_guest_xml(None, instance, network_info, None, instance.image_meta,
                                   block_device_info=block_device_info)

    # ---- lifecycle -----------------------------------------------------------

    def spawn(self, context, instance, image_meta, injected_files, admin_password, allocations,
              network_info=None, block_device_info=None, power_on=True, accel_info=None):
        if virt_driver.block_device_info_get_mapping(block_device_info):
            raise exception.InvalidInput(reason="an Arrow takes no volumes (it has no block devices)")
        if injected_files:
            raise exception.InvalidInput(reason="an Arrow takes no injected files (it has no disk)")
        if configdrive.required_by(instance):
            raise exception.InvalidInput(reason="an Arrow has no config drive (it has no disk)")
        if accel_info:
            raise exception.InvalidInput(reason="an Arrow takes no accelerators")
        xml = self._get_guest_xml(context, instance, network_info, None, image_meta,
                                  block_device_info=block_device_info)
        self._create_guest_with_network(context, xml, instance, network_info, block_device_info,
                                        power_on=power_on)
        LOG.debug("Arrow defined and started", instance=instance)
        if power_on:
            def wait_for_boot():
                if self.get_info(instance).state == power_state.RUNNING:
                    LOG.info("Arrow spawned.", instance=instance)
                    raise loopingcall.LoopingCallDone()
            loopingcall.FixedIntervalLoopingCall(wait_for_boot).start(interval=0.5).wait()

    def _create_images_and_backing(self, context, instance, instance_dir, disk_info, fallback_from_host=None):
        pass  # an Arrow has no disk images

    def suspend(self, context, instance):
        guest = self._host.get_guest(instance)
        try:
            guest.save_memory_state()
        except libvirt.libvirtError as e:
            # A rollback: the server stays ACTIVE; the reason is its fault.
            if e.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
                raise exception.InstanceFaultRollback(inner_exception=exception.InstanceSuspendFailure(
                    reason="virtarrowd cannot save an Arrow's memory (virDomainManagedSave is not supported "
                           "there); pause or stop the server instead"))
            if e.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID:
                # virtarrowd saves an Arrow only before its application runs
                # (QEMU cannot save a guest with a mounted 9p share).
                raise exception.InstanceFaultRollback(inner_exception=exception.InstanceSuspendFailure(
                    reason="virtarrowd cannot save an Arrow's memory while its application runs: %s; pause or "
                           "stop the server instead" % e.get_error_message()))
            raise

    def unpause(self, instance):
        # Without LibvirtDriver's sync_guest_time: virDomainSetTime needs a
        # guest agent, and an Arrow runs none.
        self._host.get_guest(instance).resume()

    def get_console_output(self, context, instance):
        guest = self._host.get_guest(instance)
        return console.read_log(self._host.get_connection(), guest._domain,
                                libvirt_driver.MAX_CONSOLE_BYTES)

    def get_instance_diagnostics(self, instance):
        diags = super().get_instance_diagnostics(instance)
        # LibvirtDriver divides virDomainGetInfo's KiB by 2^20, so a 128 MiB
        # guest reads 0; the API documents MiB.
        _, max_kib, kib, _, _ = self._host.get_guest(instance)._get_domain_info()
        diags.memory_details.maximum = max_kib // 1024
        diags.memory_details.used = kib // 1024
        return diags

    # ---- refused -------------------------------------------------------------

    def rescue(self, context, instance, network_info, image_meta, rescue_password, block_device_info):
        raise exception.InstanceNotRescuable(instance_id=instance.uuid, reason="an Arrow has no disk to rescue")

    def snapshot(self, context, instance, image_id, update_task_state):
        raise _refused("Snapshot", "an Arrow has no disk; its program comes from the image's properties")

    def set_admin_password(self, instance, new_pass):
        raise exception.SetAdminPasswdNotSupported(
            message="Set admin password is not supported for an Arrow: it runs one program, no guest agent")

    def attach_volume(self, context, connection_info, instance, mountpoint, disk_bus=None, device_type=None,
                      encryption=None):
        raise exception.VolumeAttachFailed(volume_id=connection_info.get("serial", "?"),
                                           reason="an Arrow has no block devices")

    def swap_volume(self, context, old_connection_info, new_connection_info, instance, mountpoint, resize_to):
        raise _refused("Swapping a volume", "an Arrow has no block devices")

    def extend_volume(self, context, connection_info, instance, requested_size):
        raise exception.ExtendVolumeNotSupported(message="Extending a volume is not supported for an Arrow: "
                                                         "it has no block devices")

    def attach_interface(self, context, instance, image_meta, vif):
        raise exception.AttachInterfaceNotSupported(
            message=f"Attaching interfaces is not supported for instance {instance.uuid}: an Arrow's interface "
                    f"is fixed while it runs")

    def detach_interface(self, context, instance, vif):
        raise _refused("Detaching an interface", "an Arrow's interface is fixed while it runs")

    def get_vnc_console(self, context, instance):
        raise self._no_console("vnc")

    def get_spice_console(self, context, instance):
        raise self._no_console("spice")

    def get_serial_console(self, context, instance):
        raise self._no_console("serial")

    @staticmethod
    def _no_console(kind):
        return exception.ConsoleTypeUnavailable(
            message=f"Unavailable console type {kind}: an Arrow has no display or interactive console for Nova; "
                    f"its output is the console log (os-getConsoleOutput)")

    def quiesce(self, context, instance, image_meta):
        raise exception.InstanceQuiesceNotSupported(
            message=f"Quiescing is not supported in instance {instance.uuid}: an Arrow has no guest agent")

    def unquiesce(self, context, instance, image_meta):
        raise exception.InstanceQuiesceNotSupported(
            message=f"Quiescing is not supported in instance {instance.uuid}: an Arrow has no guest agent")

    def migrate_disk_and_power_off(self, context, instance, dest, flavor, network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):
        raise exception.InstanceFaultRollback(
            inner_exception=exception.MigrationError(reason="resize and cold migration of an Arrow are not "
                                                            "supported"))

    def check_can_live_migrate_destination(self, context, instance, src_compute_info, dst_compute_info,
                                           block_migration=False, disk_over_commit=False):
        raise exception.MigrationPreCheckError(reason="live migration of an Arrow is not supported")

    def check_can_live_migrate_source(self, context, instance, dest_check_data, block_device_info=None):
        raise exception.MigrationPreCheckError(reason="live migration of an Arrow is not supported")
