import VMMCommand
