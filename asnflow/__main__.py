from asnflow.cli import command_line

command_line()
