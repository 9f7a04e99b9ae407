#!/usr/bin/python3
"""report.py ROWS.tsv - the table of tools/bench.sh.

Each input line: label, unit, figures (space-separated runs), baseline label,
baseline runs, goal. Goals: "ratio<=X", "ratio>=X" (median figure / median
baseline), "fig<=X", "fig>=X", "fig==X" (median figure), "" (none).
Prints: figure median [min-max], baseline median [min-max], ratio, goal, met.
"""
import statistics
import sys


def num(s):
    try:
        return float(s)
    except ValueError:
        return float('nan')


def fmt(v, unit):
    if v != v:
        return 'n/a'
    if unit in ('KiB',):
        return '%.1f MiB' % (v / 1024)
    if unit in ('pps', 'flows/s'):
        return '%.3gM' % (v / 1e6) if v >= 1e5 else '%.3gk' % (v / 1e3) if v >= 1e3 else '%.0f' % v
    if unit == 's':
        return '%.3f s' % v if v < 10 else '%.1f s' % v
    if unit == 'Gbit/s':
        return '%.2f G' % v
    if unit == 'share':
        return '%.3f' % v
    return '%g' % v


def stat(vals, unit):
    xs = [num(v) for v in vals.split()]
    xs = [x for x in xs if x == x]
    if not xs:
        return float('nan'), 'n/a'
    med = statistics.median(xs)
    return med, '%s [%s-%s]' % (fmt(med, unit), fmt(min(xs), unit), fmt(max(xs), unit))


def judge(goal, fig, ratio):
    if not goal:
        return ''
    what, op, val = (goal[:5], goal[5:7], goal[7:]) if goal.startswith('ratio') else (goal[:3], goal[3:5], goal[5:])
    x = ratio if what == 'ratio' else fig
    v = float(val)
    ok = {'<=': x <= v, '>=': x >= v, '==': abs(x - v) < 1e-9}[op]
    return 'yes' if ok else 'NO'


def main():
    rows = [line.rstrip('\n').split('\t') for line in open(sys.argv[1]) if line.strip()]
    out = [('figure', 'segd: median [min-max]', 'baseline', 'baseline: median [min-max]', 'ratio', 'goal', 'met')]
    for label, unit, figs, blabel, bases, goal in rows:
        fm, fs = stat(figs, unit)
        bm, bs = stat(bases, unit)
        ratio = fm / bm if bm == bm and bm != 0 else float('nan')
        out.append((label, fs, blabel, bs, '%.3f' % ratio if ratio == ratio else 'n/a', goal,
                    judge(goal, fm, ratio)))
    widths = [max(len(r[i]) for r in out) for i in range(len(out[0]))]
    for k, r in enumerate(out):
        print('  '.join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
        if k == 0:
            print('  '.join('-' * w for w in widths))


if __name__ == '__main__':
    main()
