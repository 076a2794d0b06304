# `make help`: each target that has a `## description`, under the section
# whose HELP_<section> list names it, in that list's order. A target no list
# names still shows, under "Other", so none is hidden.
# Input: "target: prerequisites ## description" lines.
# layout: "Section target target ...|Section target ...|..." (from the Makefile).
BEGIN { FS = ":.*## " }
!($1 in description) { order[++targets] = $1 }
{ description[$1] = $2 }
END {
    count = split(layout, sections, "|")
    for (i = 1; i <= count; i++) {
        n = split(sections[i], words, " ")
        if (n < 2) continue  # a section no target joined
        printf "\n%s\n", words[1]
        for (j = 2; j <= n; j++) {
            if (words[j] in description) {
                printf "  %-22s %s\n", words[j], description[words[j]]
                shown[words[j]] = 1
            }
        }
    }
    other = ""
    for (k = 1; k <= targets; k++)
        if (!(order[k] in shown))
            other = other sprintf("  %-22s %s\n", order[k], description[order[k]])
    if (other != "") printf "\nOther\n%s", other
}
