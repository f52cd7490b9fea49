# SPDX-License-Identifier: LGPL-2.1-or-later
"""`completion bash|zsh`: a shell completion script made from the parser: at each
point of the command tree, its verbs, its choices and its options."""

import argparse

from .parser import PROG


def command_words(top: argparse.ArgumentParser) -> dict[str, list[str]]:
    """The words that may follow each command path ("", "lv", "lv create", ...)."""
    words: dict[str, list[str]] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        options = [o for a in parser._actions for o in a.option_strings]
        subcommands = [a for a in parser._actions
                       if isinstance(a, argparse._SubParsersAction)]
        names = [n for a in subcommands for n in a.choices]
        choices = [c for a in parser._actions if not a.option_strings and a.choices
                   and not isinstance(a, argparse._SubParsersAction) for c in a.choices]
        words[path] = names + choices + options
        for action in subcommands:
            for name, child in action.choices.items():
                walk(child, f"{path} {name}".strip())

    walk(top, "")
    return words


def completion_script(top: argparse.ArgumentParser, shell: str = "bash") -> str:
    """The completion script for `shell` (bash or zsh)."""
    words = command_words(top)
    return (zsh_script if shell == "zsh" else bash_script)(words, "|".join(words))


def bash_script(words: dict[str, list[str]], known: str) -> str:
    cases = "\n".join(f'        "{path}") words="{" ".join(w)}" ;;'
                      for path, w in words.items())
    return f"""# bash completion for {PROG}; made by `{PROG} completion bash`
_solidice_storagectl() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} path="" word words i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        case "|{known}|" in
            *"|${{path:+$path }}$word|"*) path="${{path:+$path }}$word" ;;
        esac
    done
    case "$path" in
{cases}
        *) words="" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -F _solidice_storagectl {PROG}
"""


def zsh_script(words: dict[str, list[str]], known: str) -> str:
    # zsh's $path is its $PATH: the command path is `at` here.
    cases = "\n".join(f'        "{path}") candidates=({" ".join(w)}) ;;'
                      for path, w in words.items())
    return f"""#compdef {PROG}
# zsh completion for {PROG}; made by `{PROG} completion zsh`.
# Put it in a directory of $fpath as _solidice_storagectl, or source it after
# compinit.
_solidice_storagectl() {{
    local at="" word i
    local -a candidates
    for ((i = 2; i < CURRENT; i++)); do
        word=${{words[i]}}
        case "|{known}|" in
            *"|${{at:+$at }}$word|"*) at="${{at:+$at }}$word" ;;
        esac
    done
    case "$at" in
{cases}
        *) candidates=() ;;
    esac
    compadd -a candidates
}}
if [[ "$funcstack[1]" == _solidice_storagectl ]]; then
    _solidice_storagectl "$@"
else
    compdef _solidice_storagectl {PROG}
fi
"""
