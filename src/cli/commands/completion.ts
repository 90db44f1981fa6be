import type { Command } from 'commander';
import { KilnError } from '../../errors.ts';
import type { RegisterCommand } from './types.ts';

// `kiln completion bash|zsh|fish`: a completion script generated from the command tree itself,
// so new commands and flags complete without anyone editing a script. Commands, subcommands
// (rollout promote|abort) and each command's flags are completed; values are left to the shell's
// file completion.

interface Node {
  path: string[];
  flags: string[];
  subcommands: string[];
}

function walk(cmd: Command, path: string[], out: Node[]): void {
  const flags = cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
  out.push({ path, flags: [...flags, '--help'], subcommands: cmd.commands.map((c) => c.name()) });
  for (const c of cmd.commands) walk(c, [...path, c.name()], out);
}

function bash(nodes: Node[]): string {
  const cases = nodes
    .map((n) => `    "${n.path.join(' ')}") words="${[...n.subcommands, ...n.flags].join(' ')}" ;;`)
    .join('\n');
  return `# kiln bash completion: source <(kiln completion bash), or save it to
# /etc/bash_completion.d/kiln or ~/.local/share/bash-completion/completions/kiln
_kiln() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w i words
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case " $(_kiln_sub "$path") " in *" $w "*) path="\${path:+$path }$w" ;; esac
  done
  words="$(_kiln_sub "$path")"
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  [ \${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- "$cur"))
}
_kiln_sub() {
  local words=""
  case "$1" in
${cases}
  esac
  echo "$words"
}
complete -o filenames -F _kiln kiln
`;
}

function zsh(nodes: Node[]): string {
  return `#compdef kiln
# kiln zsh completion: kiln completion zsh > "\${fpath[1]}/_kiln" (then restart zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(nodes)}`;
}

function fish(nodes: Node[]): string {
  const lines = [
    '# kiln fish completion: kiln completion fish > ~/.config/fish/completions/kiln.fish',
    'complete -c kiln -f',
  ];
  for (const n of nodes) {
    const cond =
      n.path.length === 0
        ? '__fish_use_subcommand'
        : `__fish_seen_subcommand_from ${n.path[n.path.length - 1]}`;
    for (const s of n.subcommands) lines.push(`complete -c kiln -n '${cond}' -a '${s}'`);
    for (const f of n.flags) {
      const opt = f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`;
      lines.push(`complete -c kiln -n '${cond}' ${opt}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export const registerCompletion: RegisterCommand = (program, io) =>
  program
    .command('completion')
    .description('print a shell completion script: kiln completion bash|zsh|fish')
    .argument('<shell>', 'bash | zsh | fish')
    .addHelpText('after', '\nbash: source <(kiln completion bash)     fish: kiln completion fish | source')
    .action((shell: string) => {
      const nodes: Node[] = [];
      walk(program, [], nodes);
      const make = { bash, zsh, fish }[shell as 'bash' | 'zsh' | 'fish'];
      if (!make) {
        throw new KilnError('USAGE', `kiln completion: unknown shell "${shell}"`, {
          kind: 'usage',
          hint: 'choose bash, zsh or fish',
        });
      }
      io.stdout(make(nodes));
    });
