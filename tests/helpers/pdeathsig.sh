#!/bin/sh
# Runs as PID 1 of a namespace. $1 = rinit, $2 = log file. An inner sh starts
# `rinit -p TERM` and exits; rinit must then act as if it got SIGTERM and
# forward it to its child, whose trap writes to the log.
rinit=$1 log=$2
sh -c '"$1" -p TERM -- sh -c "trap \"echo child-got-term >> $2; exit 0\" TERM; echo ready >> $2; while :; do sleep 0.05; done" &
       while ! grep -q ready "$2" 2>/dev/null; do sleep 0.02; done' sh "$rinit" "$log"
i=0
while ! grep -q child-got-term "$log"; do
    sleep 0.02
    i=$((i + 1))
    [ $i -gt 500 ] && exit 1
done
exit 0
