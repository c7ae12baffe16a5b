import ArgumentParser
import VMMKit
