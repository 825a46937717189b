#!/usr/bin/env python3
"""Writes N vCard 3.0 cards (~450 bytes each, names in several scripts, EMAIL/TEL/ADR/ORG/NOTE)
to stdout, card i from i alone, for bench/memory/run. Usage: cards.py N [PREFIX]"""
import sys

FIRST = ["Anna", "José", "Łukasz", "Иван", "Γιώργος", "明", "さくら", "Zoë", "Ahmed", "Chloé"]
LAST = ["Müller", "García", "Nowak", "Петров", "Παπαδόπουλος", "王", "佐藤", "Çelik", "Haddad", "Dubois"]

def card(i, prefix):
    first = FIRST[i % len(FIRST)]
    last = LAST[(i // 10) % len(LAST)]
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:{prefix}-{i:07d}\r\n"
        f"FN:{first} {last} {i}\r\n"
        f"N:{last};{first};;;\r\n"
        f"EMAIL;TYPE=INTERNET,WORK:{prefix}.{i}@example.org\r\n"
        f"TEL;TYPE=CELL:+1 555 {i % 10000:04d} {i % 997:03d}\r\n"
        f"ADR;TYPE=HOME:;;{i} Main Street;Springfield;IL;{10000 + i % 89999};USA\r\n"
        f"ORG:Company {i % 1000};Department {i % 7}\r\n"
        f"NOTE:Contact number {i}, generated for the memory benchmark; a note long enough to "
        "look like a real one.\r\n"
        "END:VCARD\r\n"
    )

def main():
    n = int(sys.argv[1])
    prefix = sys.argv[2] if len(sys.argv) > 2 else "mem"
    out = sys.stdout
    for i in range(n):
        out.write(card(i, prefix))

main()
