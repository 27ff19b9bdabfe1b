"""Simulated GSM modems on pseudo-terminals: the demo, the tests and the benchmark use them.

- `ModemFarm(count, clock, reactor, seed=, link_dir=, transcript_dir=, submit_latency=, reports=)`
  builds N `SimModem`; ``start()`` opens one pty each and returns the paths to give the driver.
- `SimModem` control API: ``inject_mo(sender, text, order=, drop=, duplicate=, gap=)``,
  ``inject_fault(kind, **params)`` (no_signal, signal, sim_absent/pin/puk/busy, cms_errors,
  prompt, slow_cmgs, split_cmgs, cmgs_without_mr, hang, hang_next_submit, urc_inside_response,
  noise, csca_required, storage_full, reboot, reboot_unplugs, mr_lost_on_reboot, double_echo,
  sms_not_ready, unplug, clear),
  ``script_reports(ReportPlan...)``, ``inject_report(mr, recipient, status)``,
  ``set_signal(rssi, creg_stat)``, ``set_sim(state)``, ``reboot()``, ``unplug(replug_after=)``,
  ``replug()``, ``sent`` (accepted submits, decoded), ``state`` (memories, MR, settings).
- `loopback.AtLoopback` / `loopback.Loopback`: the same modem wired in memory to a Protocol on a
  Clock, for fast deterministic tests.
"""

from modemfarm.simulator.device import SimModem
from modemfarm.simulator.farm import ModemFarm
from modemfarm.simulator.network import Latency, Network, ReportPlan, ReportPolicy

__all__ = ["Latency", "ModemFarm", "Network", "ReportPlan", "ReportPolicy", "SimModem"]
