// Frames and page tables as the host lets a plugin touch them. Every read and write goes through the
// engine so that the oracle sees it (a read of a freed table is O2 whoever does it).
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;

namespace Pv.Abstractions.Host;

/// <summary>The physical frame allocator.</summary>
public interface IFrames
{
    /// <summary>Allocate a frame for <paramref name="kind"/>; <see cref="Pfn.None"/> when allocation fails.</summary>
    Pfn Alloc(FrameKind kind);

    /// <summary>Free a frame (its generation changes when it is reused).</summary>
    void Free(Pfn pfn);

    /// <summary>The frame's current kind and generation.</summary>
    FrameInfo Info(Pfn pfn);
}

/// <summary>Reads and writes page-table entries; a software walk that is not a hardware (TLB-filling) walk.</summary>
public interface IPageTables
{
    /// <summary>Number of paging levels: 4 or 5.</summary>
    int Levels { get; }

    /// <summary>The top-level table of <paramref name="mm"/>.</summary>
    Pfn Pgd(MmId mm);

    /// <summary>Read one entry (one step's worth of memory access).</summary>
    PageTableEntry Read(PteSlot slot);

    /// <summary>Write one entry.</summary>
    void Write(PteSlot slot, PageTableEntry entry);

    /// <summary>
    /// Walk <paramref name="mm"/>'s tables to the entry that maps <paramref name="address"/>: a present leaf (PTE or
    /// huge PMD/PUD), or the first non-present entry. False when the walk stopped at a non-present entry.
    /// </summary>
    bool TryWalk(MmId mm, ulong address, out PteSlot slot, out PageTableEntry entry);
}

/// <summary>Host protection bits (PROT_READ/WRITE/EXEC of the host mmap, for UML).</summary>
[Flags]
public enum HostProt : byte
{
    /// <summary>PROT_NONE.</summary>
    None = 0,
    /// <summary>PROT_READ.</summary>
    Read = 1,
    /// <summary>PROT_WRITE.</summary>
    Write = 2,
    /// <summary>PROT_EXEC.</summary>
    Exec = 4,
}

/// <summary>One host mapping of a UML process: its "TLB entry".</summary>
/// <param name="Address">Start address.</param>
/// <param name="Length">Length in bytes.</param>
/// <param name="Prot">Host protection.</param>
/// <param name="Offset">Offset into UML's physical-memory file: which frame backs the start.</param>
public readonly record struct HostMapping(ulong Address, ulong Length, HostProt Prot, ulong Offset);

/// <summary>
/// The host process behind each UML mm (init_mm is the UML kernel's own). Calls are queued to the stub and
/// counted; calls between two <see cref="FlushStub"/> calls form one stub round trip.
/// </summary>
public interface IHostMappings
{
    /// <summary>Host <c>mmap</c> (MAP_FIXED) of the physical-memory file at <paramref name="offset"/>. Returns 0 or -ENOMEM (-12).</summary>
    int Mmap(MmId mm, ulong address, ulong length, HostProt prot, ulong offset);

    /// <summary>Host <c>munmap</c>. Returns 0 or a negative errno.</summary>
    int Munmap(MmId mm, ulong address, ulong length);

    /// <summary>Host <c>mprotect</c>. Returns 0 or a negative errno.</summary>
    int Mprotect(MmId mm, ulong address, ulong length, HostProt prot);

    /// <summary>Run the queued calls in the stub: one round trip.</summary>
    void FlushStub(MmId mm);

    /// <summary>The host mapping covering <paramref name="address"/>, if any.</summary>
    bool TryLookup(MmId mm, ulong address, out HostMapping mapping);
}

/// <summary>A DMA-capable device attached to the machine.</summary>
/// <param name="Id">Device number.</param>
/// <param name="Name">Name from the scenario.</param>
/// <param name="Ats">The device has an ATC (PCIe ATS).</param>
public readonly record struct DeviceInfo(int Id, string Name, bool Ats);

/// <summary>The devices a secondary MMU serves, and the bookkeeping of its command queue.</summary>
public interface IDeviceDmaPort
{
    /// <summary>The devices of this machine.</summary>
    IReadOnlyList<DeviceInfo> Devices { get; }

    /// <summary>
    /// <c>CMD_SYNC</c>: the calling thread takes no further step until the commands issued so far completed
    /// (charged as one command-queue sync).
    /// </summary>
    void CommandSync();
}
