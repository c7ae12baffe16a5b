import DiceDevice
import VMMCommand

// vmm, with one more device type: `vmm-extended --device dice,port=0x700 KERNEL`.
VMMCommandLine.main(additionalDevices: [DiceDevice.deviceType])
