#!/usr/bin/python3
"""timed.py CMD... - runs CMD, prints "ELAPSED_S MAXRSS_KB EXIT" for that process alone
(wait4 rusage; `ip netns exec` execs its command, so the figure is nft's own)."""
import os
import sys
import time

t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
print('%.6f %d %d' % (time.monotonic() - t0, ru.ru_maxrss, os.waitstatus_to_exitcode(status)))
