#!/bin/bash
# test-packets.sh - every kind of packet, not only connection openers: ICMP
# errors with random inner tuples, TCP segments that look like replies,
# fragments, packets to and from the gateway itself and link-local ones, IPv4
# and IPv6 (issue 13, point 6). The kernel's verdict (did the marker arrive:
# at the destination host, or in a raw socket of the gateway) equals
# `segctl explain`'s for every one (tests/e2e/tools/packets.py).
#
# The lab is conf/lab.conf with what the gateway kinds need: link_services on
# lgwan (vrrp, udp/546) and a conduit from the gateway to the cloud.
#
#   E2E_SEED=N     replay a run (the seed is printed)
#   E2E_PACKETS=N  number of packets (default 3000; with test-differential's
#                  2000 openers, 5000 in all)
source "$(dirname "$0")/lib.sh"
require_root
SEED=${E2E_SEED:-$(( (RANDOM << 15) | RANDOM ))}
PACKETS=${E2E_PACKETS:-3000}
CONF=$(mktemp /tmp/segd-packets.XXXXXX)
trap 'rm -f "$CONF"; lab_down' EXIT
"$PY" - "$TOP/conf/lab.conf" "$CONF" <<'PY'
import datetime, sys
t = open(sys.argv[1]).read()
lg = 'gateway_services = [ "tcp/22" ]; },'
assert lg in t and 'conduits = (\n' in t
t = t.replace(lg, lg[:-3] + '\n    link_services = [ "vrrp", "udp/546" ]; },')
expires = (datetime.date.today() + datetime.timedelta(days=300)).isoformat()
t = t.replace('conduits = (\n', '''conduits = (
  { name = "gateway-dns"; kind = "egress"; from = "gateway"; to = "cloud";
    destinations = [ "203.0.113.53", "2001:db8:113::53" ]; services = [ "udp/53", "tcp/53", "tcp/443" ];
    approval = "R8-GW-001"; expires = "%s"; },
''' % expires)
open(sys.argv[2], 'w').write(t)
PY
heading "lab from conf/lab.conf with link services and a conduit from the gateway (seed $SEED)"
lab_up "$CONF" 4 "$SEED" || { fail "lab_up"; summary; exit 1; }
start_segd "$CONF" || { fail "segd starts"; summary; exit 1; }
ok "segd installed table inet $LAB_TABLE"
heading "$PACKETS random packets of every kind: kernel vs. segctl explain"
tap "$PY" "$TOOLS/packets.py" "$RUN_DIR" "$SEGCTL" "$SEGD_CONF" "$PACKETS" "$SEED"
heading "negative control: explain asked about conf/lab.conf (no link services, no conduit from the gateway)"
PACKETS_NEGATIVE=1 tap "$PY" "$TOOLS/packets.py" "$RUN_DIR" "$SEGCTL" "$TOP/conf/lab.conf" 600 "$SEED"
stop_segd
summary
