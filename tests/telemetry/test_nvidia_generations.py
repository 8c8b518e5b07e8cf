"""`nvidia-smi -q -x` of the oldest schema seen in public output: v6 (driver 340, 2014).

The document below keeps the element names, nesting and values of a Tesla K20m capture on driver
340.24 (`nvsmi_device_v6.dtd`) quoted as test output in init.at's host-monitoring module
("NVidia GPU monitoring", GPL-2; the code index returned it as file id 17007479916 without its
repository name). Only the elements the reader uses (and a few it must skip) were written out
again; nothing was copied beyond those facts. v6 differs from the captures in data/nvidia_smi/:
`<power_readings>` holds `power_limit` beside `enforced_power_limit`, utilisation has a leading
zero (`04 %`), and processes are `<compute_processes>`.
"""

from __future__ import annotations

from clamp.telemetry.nvidia_smi import parse_nvidia_xml

MIB = 2**20

K20M_V6 = b"""<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v6.dtd">
<nvidia_smi_log>
        <timestamp>Mon Nov 10 11:39:35 2014</timestamp>
        <driver_version>340.24</driver_version>
        <attached_gpus>1</attached_gpus>
        <gpu id="0000:0D:00.0">
                <product_name>Tesla K20m</product_name>
                <uuid>GPU-215abf8a-9057-fd09-9b71-0efe081ca639</uuid>
                <pci><pci_bus_id>0000:0D:00.0</pci_bus_id></pci>
                <fan_speed>N/A</fan_speed>
                <performance_state>P0</performance_state>
                <fb_memory_usage>
                        <total>4799 MiB</total><used>828 MiB</used><free>3971 MiB</free>
                </fb_memory_usage>
                <bar1_memory_usage>
                        <total>256 MiB</total><used>18 MiB</used><free>238 MiB</free>
                </bar1_memory_usage>
                <utilization>
                        <gpu_util>04 %</gpu_util><memory_util>01 %</memory_util>
                </utilization>
                <temperature>
                        <gpu_temp>32 C</gpu_temp>
                        <gpu_temp_max_threshold>95 C</gpu_temp_max_threshold>
                </temperature>
                <power_readings>
                        <power_state>P0</power_state>
                        <power_draw>48.05 W</power_draw>
                        <power_limit>225.00 W</power_limit>
                        <enforced_power_limit>225.00 W</enforced_power_limit>
                        <min_power_limit>150.00 W</min_power_limit>
                </power_readings>
                <clocks>
                        <graphics_clock>705 MHz</graphics_clock><sm_clock>705 MHz</sm_clock>
                        <mem_clock>2600 MHz</mem_clock>
                </clocks>
                <max_clocks><graphics_clock>758 MHz</graphics_clock></max_clocks>
                <compute_processes>
                        <process_info>
                                <pid>5495</pid><used_memory>98 MiB</used_memory>
                        </process_info>
                </compute_processes>
        </gpu>
</nvidia_smi_log>
"""


def test_schema_v6_tesla_k20m() -> None:
    snap = parse_nvidia_xml(K20M_V6)
    assert snap.driver_version == "340.24"
    (card,) = snap.cards
    assert (card.card, card.name) == ("nvidia0", "Tesla K20m")
    assert card.unique_id == "GPU-215abf8a-9057-fd09-9b71-0efe081ca639"
    assert card.temperature_gpu_c == 32.0  # not the 95 C threshold
    assert (card.power_w, card.power_cap_w) == (48.05, 225.0)
    assert (card.gpu_use_percent, card.memory_activity_percent) == (4.0, 1.0)
    # the frame buffer, not BAR1 nor a process's 98 MiB
    assert card.vram_total_bytes == 4799 * MIB and card.vram_used_bytes == 828 * MIB
    assert card.clocks_mhz == {"graphics": 705.0, "sm": 705.0, "memory": 2600.0}  # not max
    assert card.fan_speed_percent is None and card.extra == {"performance_state": "P0"}
