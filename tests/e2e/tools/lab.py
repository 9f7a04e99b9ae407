#!/usr/bin/python3
"""lab.py - command line of the end-to-end lab (used by tests/e2e/lib.sh).

  lab.py up CONFIG PREFIX RUNDIR [--extra N] [--seed S]
        plan the lab from CONFIG, build the namespaces, write RUNDIR/lab.json
  lab.py show RUNDIR            the lab in a few readable lines
  lab.py get RUNDIR KEY         gw_ns | table | namespaces | zones
  lab.py localize CONFIG OUT RUNDIR
        a copy of CONFIG whose spool and control socket live in RUNDIR
        (line numbers kept), so that a lab never touches a real segd's files
  lab.py drop-conduit CONFIG OUT NAME
        a copy of CONFIG without conduit NAME
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import libconf  # noqa: E402
import netlab   # noqa: E402


def cmd_up(a):
    model = netlab.Model(a.config)
    plan = netlab.make_plan(model, a.prefix, extra=a.extra, seed=a.seed)
    netlab.save_plan(plan, os.path.join(a.rundir, 'lab.json'))
    netlab.lab_build(plan)


def cmd_show(a):
    plan = netlab.load_plan(os.path.join(a.rundir, 'lab.json'))
    print('gateway namespace %s (table inet %s)' % (plan['gw_ns'], plan['table']))
    for z in plan['zones']:
        for h in z['hosts']:
            addrs = h['addrs']
            more = ' (+%d more)' % (len(addrs) - 6) if len(addrs) > 6 else ''
            print('  %-10s %-8s %-7s <-> %-18s %s%s' % (z['name'], z['kind'], h['gw_if'], h['ns'],
                                                      ' '.join(addrs[:6]), more))


def cmd_get(a):
    plan = netlab.load_plan(os.path.join(a.rundir, 'lab.json'))
    if a.key == 'namespaces':
        print(plan['gw_ns'])
        for z in plan['zones']:
            for h in z['hosts']:
                print(h['ns'])
    elif a.key == 'zones':
        for z in plan['zones']:
            print(z['name'], z['hosts'][0]['ns'], z['hosts'][0]['gw_if'])
    else:
        print(plan[a.key])


def cmd_localize(a):
    text = open(a.config, encoding='utf-8').read()
    cfg = libconf.loads(text)
    st = cfg.get('settings')
    # state_dir always: segd keeps revisions and isolation there, never the host's /var/lib/segd
    paths = {'spool': os.path.join(a.rundir, 'incidents.jsonl'),
             'control_socket': os.path.join(a.rundir, 'control.sock'),
             'state_dir': os.path.join(a.rundir, 'state')}
    if st is None:
        body = ' '.join('%s = "%s";' % kv for kv in paths.items())
        text = 'settings = { %s };\n' % body + text    # costs one line: only for configs without settings
    else:
        s, e = st['__span__']
        inner = text[s + 1:e - 1]
        for k in paths:
            inner = re.sub(r'\b%s\s*[=:]\s*"(?:[^"\\]|\\.)*"\s*[;,]?' % k, '', inner)
        body = ' '.join('%s = "%s";' % kv for kv in paths.items())
        text = text[:s + 1] + ' ' + body + inner + text[e - 1:]
    with open(a.out, 'w', encoding='utf-8') as f:
        f.write(text)


def cmd_drop_conduit(a):
    text = open(a.config, encoding='utf-8').read()
    cfg = libconf.loads(text)
    c = next((c for c in cfg.get('conduits', []) if c.get('name') == a.name), None)
    if c is None:
        sys.exit('lab.py: no conduit %r in %s' % (a.name, a.config))
    with open(a.out, 'w', encoding='utf-8') as f:
        f.write(libconf.drop_group(text, c))


def main():
    p = argparse.ArgumentParser(prog='lab.py')
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('up')
    s.add_argument('config')
    s.add_argument('prefix')
    s.add_argument('rundir')
    s.add_argument('--extra', type=int, default=0)
    s.add_argument('--seed', type=int, default=0)
    s.set_defaults(fn=cmd_up)
    s = sub.add_parser('show')
    s.add_argument('rundir')
    s.set_defaults(fn=cmd_show)
    s = sub.add_parser('get')
    s.add_argument('rundir')
    s.add_argument('key')
    s.set_defaults(fn=cmd_get)
    s = sub.add_parser('localize')
    s.add_argument('config')
    s.add_argument('out')
    s.add_argument('rundir')
    s.set_defaults(fn=cmd_localize)
    s = sub.add_parser('drop-conduit')
    s.add_argument('config')
    s.add_argument('out')
    s.add_argument('name')
    s.set_defaults(fn=cmd_drop_conduit)
    a = p.parse_args()
    try:
        a.fn(a)
    except (RuntimeError, libconf.ConfigError, OSError) as e:
        sys.exit('lab.py %s: %s' % (a.cmd, e))


if __name__ == '__main__':
    main()
