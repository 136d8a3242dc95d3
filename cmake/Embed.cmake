# Embed.cmake - run as `cmake -DIN=<file> -DOUT=<file.c> -DNAME=<symbol> -P
# Embed.cmake`: writes OUT defining `const char NAME[]`, the bytes of IN
# followed by a NUL, and `const unsigned long NAME_len`, their count. Used
# for the status page, kept as a plain HTML file in the tree.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" hex "${hex}")
file(WRITE ${OUT} "/* generated from ${IN} by cmake/Embed.cmake; do not edit */\n"
  "const char ${NAME}[] = {\n${hex}0x00};\n"
  "const unsigned long ${NAME}_len = ${bytes};\n")
