import VMMKit
