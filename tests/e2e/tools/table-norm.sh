# table-norm.sh - sourced: table_norm prints the kernel's listing of segd's
# table without the counters' values, which traffic changes (a restored or
# re-installed table is compared with the approved one this way).
table_norm() { table_listing | sed -E 's/packets [0-9]+ bytes [0-9]+//g'; }
