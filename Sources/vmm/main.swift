import VMMCommand

VMMCommandLine.main()
