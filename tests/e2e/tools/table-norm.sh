# table-norm.sh - sourced: table_norm prints the kernel's listing of segd's
# table without the counters' values, which traffic changes, and without
# who owns it (flags owner/persist, "# progname segd": an owned table that
# its segd left behind is the same ruleset), so that a restored, re-installed
# or orphaned table is compared with the approved one.
table_norm() {
	table_listing | sed -E -e 's/packets [0-9]+ bytes [0-9]+//g' -e 's/ # progname .*$//' \
		-e '/^\tflags /{s/\b(owner|persist)\b,?//g; s/,$//}' -e '/^\tflags *$/d'
}
