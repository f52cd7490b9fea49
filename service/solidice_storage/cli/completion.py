"""`completion bash`: a bash completion script made from the parser."""

import argparse

from .parser import PROG


def completion_script(top: argparse.ArgumentParser) -> str:
    """A bash completion script for the whole command tree, made from the parser."""
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
    cases = "\n".join(f'        "{path}") words="{" ".join(w)}" ;;' for path, w in words.items())
    known = "|".join(words)
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
