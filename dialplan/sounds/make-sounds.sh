#!/bin/sh
# Regenerates the English prompts in en/pbxbridge/ from prompts.txt with espeak-ng and sox
# (apt-get install espeak-ng sox): 8 kHz, mono, 16-bit WAV, the format Asterisk plays as-is.
# With names (make-sounds.sh callback-operator …), only those prompts are made.
set -eu
cd "$(dirname "$0")"
grep -v '^#' prompts.txt | while IFS='|' read -r name text; do
    [ -n "$name" ] || continue
    if [ $# -gt 0 ]; then
        case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    espeak-ng -v en-us -s 150 -w "/tmp/pbxbridge-$name.wav" "$text"
    sox "/tmp/pbxbridge-$name.wav" -r 8000 -c 1 -b 16 "en/pbxbridge/$name.wav"
    rm -f "/tmp/pbxbridge-$name.wav"
done
