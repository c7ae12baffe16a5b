import VMMKit

/// The result of a page walk for one 4 KiB piece of a linear page.
struct Translation {
    /// Guest-physical address of the accessed byte.
    var physical: UInt64
    /// A global page (CR4.PGE and the G bit): survives CR3 writes.
    var global: Bool
    /// log2 of the page size: 12, 21, 22 or 30.
    var pageShift: UInt64
}

/// Page-fault error code bits (SDM vol. 3, 4.7).
enum PageFaultCode {
    static let present: UInt32 = 1, write: UInt32 = 2, user: UInt32 = 4, reserved: UInt32 = 8, fetch: UInt32 = 16
}

extension CPUCore {
    /// MAXPHYADDR, as CPUID 0x80000008 reports it: address bits above it must be zero in PAE and
    /// 4-level entries.
    static let maxPhysicalAddressBits = UInt64(CPUIDModel.softCPU.physicalAddressBits)
    static let physicalAddressMask: UInt64 = (1 << maxPhysicalAddressBits) - 1
    private static let entryAddressMask: UInt64 = physicalAddressMask & ~0xfff
    /// Bits 51:MAXPHYADDR of a 4-level entry are reserved; PAE entries also reserve 62:52, which
    /// 4-level paging leaves to software (SDM vol. 3, tables 4-8 and 4-14).
    private static let reservedAddressBits: UInt64 = 0x000f_ffff_ffff_f000 & ~physicalAddressMask
    private static let reservedPAEBits: UInt64 = 0x7fff_ffff_ffff_f000 & ~physicalAddressMask
    /// A 4 MiB PDE carries physical bits 39:32 in bits 20:13 (PSE-36); those past MAXPHYADDR, and
    /// bit 21, are reserved (SDM vol. 3, table 4-4).
    private static let reservedLargePDE32Bits: UInt64 = 0x3f_e000 & ~(((1 << (min(maxPhysicalAddressBits, 40) - 32)) - 1) << 13)

    /// Bits 63:47 all equal: the 48-bit linear addresses CPUID advertises (SDM vol. 1, 3.3.7.1).
    static func isCanonical(_ linear: UInt64) -> Bool {
        let upper = Int64(bitPattern: linear) >> 47
        return upper == 0 || upper == -1
    }

    var pagingEnabled: Bool { cr0 & ControlBits.cr0PG != 0 && protectedMode }

    /// Walks the guest page tables for `linear` (SDM vol. 3, 4.3-4.5), checks the access, updates the
    /// accessed and dirty bits, and raises #PF with CR2 and the exact error code on failure.
    mutating func translate(_ linear: UInt64, _ kind: AccessKind, user: Bool) throws(Fault) -> Translation {
        guard pagingEnabled else {
            return Translation(physical: linear & linearMask, global: false, pageShift: 12)
        }
        if longMode {
            guard Self.isCanonical(linear) else { throw Fault.gp() }
        }
        if let cached = tlb.largePages.lookup(linear),
           accessAllowed(kind, user: user, writable: cached.writable, userOK: cached.user, executable: cached.executable),
           kind != .write || cached.dirty {
            return Translation(physical: cached.base | (linear & LargePageCache.offsetMask), global: cached.global,
                               pageShift: LargePageCache.shift)
        }
        var code: UInt32 = (kind == .write ? PageFaultCode.write : 0) | (user ? PageFaultCode.user : 0)
        let nxEnabled = efer & ControlBits.eferNXE != 0
        if kind == .execute && nxEnabled && cr4 & ControlBits.cr4PAE != 0 { code |= PageFaultCode.fetch }

        var entries: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var addresses: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var depth = 0
        var writable = true, userOK = true, executable = true
        var physical: UInt64 = 0
        var pageShift: UInt64 = 12

        func entryReserved(_ entry: UInt64, large: Bool, level: Int) -> Bool {
            if entry & (longMode ? Self.reservedAddressBits : Self.reservedPAEBits) != 0 { return true }
            if !nxEnabled && entry & (1 << 63) != 0 { return true }
            if large && level == 2 && entry & 0x1f_e000 != 0 { return true }
            if large && level == 3 && entry & 0x3fff_e000 != 0 { return true }
            // AMD processors reserve bits 8:7 of a PML4E (APM vol. 2, figure 5-18); Intel's reserve
            // only PS (SDM vol. 3, table 4-15; PS is checked by the caller).
            if level == 4 && Self.isAMD && entry & 0x100 != 0 { return true }
            return false
        }

        if cr4 & ControlBits.cr4PAE == 0 {
            // 32-bit paging: two levels of 4-byte entries, 4 MiB pages with CR4.PSE (SDM vol. 3, 4.3).
            let pdeAddress = (cr3 & 0xffff_f000) + ((linear >> 22) & 0x3ff) * 4
            let pde = readTableEntry(pdeAddress, wide: false)
            addresses.0 = pdeAddress; entries.0 = pde; depth = 1
            guard pde & 1 != 0 else { throw pageFault(linear, code) }
            writable = pde & 2 != 0
            userOK = pde & 4 != 0
            if pde & 0x80 != 0 && cr4 & 0x10 != 0 {
                if pde & Self.reservedLargePDE32Bits != 0 {
                    throw pageFault(linear, code | PageFaultCode.reserved | PageFaultCode.present)
                }
                physical = (pde & 0xffc0_0000) | (((pde >> 13) & 0xff) << 32) | (linear & 0x3f_ffff)
                pageShift = 22
            } else {
                let pteAddress = (pde & 0xffff_f000) + ((linear >> 12) & 0x3ff) * 4
                let pte = readTableEntry(pteAddress, wide: false)
                addresses.1 = pteAddress; entries.1 = pte; depth = 2
                guard pte & 1 != 0 else { throw pageFault(linear, code) }
                writable = writable && pte & 2 != 0
                userOK = userOK && pte & 4 != 0
                physical = (pte & 0xffff_f000) | (linear & 0xfff)
            }
        } else {
            var table: UInt64
            var level: Int
            if longMode {
                table = cr3 & Self.entryAddressMask
                level = 4
            } else {
                // PAE: the PDPTE comes straight from the 32-byte table CR3 points at.
                let pdpteAddress = (cr3 & 0xffff_ffe0) + ((linear >> 30) & 3) * 8
                let pdpte = readTableEntry(pdpteAddress, wide: true)
                guard pdpte & 1 != 0 else { throw pageFault(linear, code) }
                // Bits 2:1, 8:5 and 63 are reserved whatever EFER.NXE says: a PDPTE has no XD bit
                // (SDM vol. 3, table 4-8; AMD APM vol. 2, figure 5-11).
                if pdpte & (0x1e6 | 1 << 63) != 0 || pdpte & Self.reservedPAEBits != 0 {
                    throw pageFault(linear, code | PageFaultCode.reserved | PageFaultCode.present)
                }
                table = pdpte & Self.entryAddressMask
                level = 2
            }
            while true {
                let shift = UInt64(12 + 9 * (level - 1))
                let address = table + ((linear >> shift) & 0x1ff) * 8
                let entry = readTableEntry(address, wide: true)
                switch depth {
                case 0: addresses.0 = address; entries.0 = entry
                case 1: addresses.1 = address; entries.1 = entry
                case 2: addresses.2 = address; entries.2 = entry
                default: addresses.3 = address; entries.3 = entry
                }
                depth += 1
                guard entry & 1 != 0 else { throw pageFault(linear, code) }
                let large = level > 1 && entry & 0x80 != 0
                // A reserved bit ends the walk at this entry: the entries below it are never read, so
                // a not-present one further down cannot turn the fault into a P=0 one (SDM vol. 3, 4.7:
                // "RSVD ... reserved bit set in some paging-structure entry").
                if entryReserved(entry, large: large, level: level) || (large && level == 4) {
                    throw pageFault(linear, code | PageFaultCode.reserved | PageFaultCode.present)
                }
                writable = writable && entry & 2 != 0
                userOK = userOK && entry & 4 != 0
                if nxEnabled && entry & (1 << 63) != 0 { executable = false }
                if level == 1 || large {
                    let offsetMask: UInt64 = (1 << shift) - 1
                    physical = (entry & Self.physicalAddressMask & ~offsetMask) | (linear & offsetMask)
                    pageShift = shift
                    break
                }
                table = entry & Self.entryAddressMask
                level -= 1
            }
        }

        guard accessAllowed(kind, user: user, writable: writable, userOK: userOK, executable: executable) else {
            throw pageFault(linear, code | PageFaultCode.present)
        }

        // Accessed bits on every level, dirty on the final entry for writes.
        let wide = cr4 & ControlBits.cr4PAE != 0
        var final: UInt64 = 0
        for level in 0..<depth {
            let (address, entry): (UInt64, UInt64)
            switch level {
            case 0: (address, entry) = (addresses.0, entries.0)
            case 1: (address, entry) = (addresses.1, entries.1)
            case 2: (address, entry) = (addresses.2, entries.2)
            default: (address, entry) = (addresses.3, entries.3)
            }
            var updated = entry | 0x20
            if level == depth - 1 && kind == .write { updated |= 0x40 }
            if updated != entry { writeTableEntry(address, updated, wide: wide) }
            if tlb.cr3CacheEnabled && self.physical.markPageTable(address) { tlb.flushWrites() }
            if level == depth - 1 { final = updated }
        }
        let global = final & 0x100 != 0 && cr4 & ControlBits.cr4PGE != 0
        if pageShift >= LargePageCache.shift {
            tlb.largePages.insert(linear, base: physical & ~LargePageCache.offsetMask, writable: writable, user: userOK,
                                  executable: executable, dirty: final & 0x40 != 0, global: global)
        }
        return Translation(physical: physical, global: global, pageShift: pageShift)
    }

    /// Permission checks (SDM vol. 3, 4.6): supervisor writes honour CR0.WP; no SMEP/SMAP.
    private func accessAllowed(_ kind: AccessKind, user: Bool, writable: Bool, userOK: Bool, executable: Bool) -> Bool {
        switch kind {
        case .read: return !user || userOK
        case .write: return user ? (userOK && writable) : (writable || cr0 & ControlBits.cr0WP == 0)
        case .execute: return executable && (!user || userOK)
        }
    }

    private mutating func pageFault(_ linear: UInt64, _ code: UInt32) -> Fault {
        cr2 = linear
        return Fault(Fault.pageFault, code: code)
    }

    private func readTableEntry(_ address: UInt64, wide: Bool) -> UInt64 {
        guard let page = physical.hostPage(address) else { return 0 }
        let pointer = page.host + Int(address & 0xfff)
        return wide ? UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
            : UInt64(UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self)))
    }

    private func writeTableEntry(_ address: UInt64, _ value: UInt64, wide: Bool) {
        guard let page = physical.hostPage(address), page.writable else { return }
        let pointer = page.host + Int(address & 0xfff)
        if wide {
            pointer.storeBytes(of: value.littleEndian, as: UInt64.self)
        } else {
            pointer.storeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian, as: UInt32.self)
        }
    }
}
