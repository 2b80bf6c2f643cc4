// mm_struct, vm_area_struct and address_space: the data the generic mm operations work on. This file holds
// state and locks only; the operations (mmap, fault, munmap, ...) are step sequences elsewhere.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Mm;

/// <summary>struct vm_area_struct.</summary>
internal sealed class Vma(MmStruct mm, ulong start, ulong end, VmaFlags flags, AddressSpace? file = null, ulong pgoff = 0)
{
    /// <summary>The owning mm.</summary>
    public MmStruct Mm { get; } = mm;
    /// <summary>vm_start.</summary>
    public ulong Start { get; internal set; } = start;
    /// <summary>vm_end (exclusive).</summary>
    public ulong End { get; internal set; } = end;
    /// <summary>vm_flags.</summary>
    public VmaFlags Flags { get; internal set; } = flags;
    /// <summary>vm_file's mapping, or null for anonymous memory.</summary>
    public AddressSpace? File { get; } = file;
    /// <summary>vm_pgoff: the file page mapped at <see cref="Start"/>.</summary>
    public ulong PgOff { get; internal set; } = pgoff;

    /// <summary>True if <paramref name="address"/> is inside.</summary>
    public bool Contains(ulong address) => address >= Start && address < End;

    /// <inheritdoc/>
    public override string ToString() => $"[{Start:x}-{End:x}) {Flags}";
}

/// <summary>struct address_space of a file or device: its i_mmap tree and the lock guarding it.</summary>
internal sealed class AddressSpace(string name)
{
    /// <summary>The file's name.</summary>
    public string Name { get; } = name;
    /// <summary>i_mmap: every VMA mapping this file.</summary>
    public List<Vma> IMmap { get; } = [];
    /// <summary>i_mmap_rwsem.</summary>
    public SimRwSem IMmapRwsem { get; } = new($"i_mmap_rwsem({name})");
    /// <summary>Page cache (or a driver's PFNs): file page index to frame.</summary>
    public Dictionary<ulong, Pfn> Pages { get; } = [];
    /// <summary>File page index to the thread whose <c>unmap_mapping_range</c> over it returned last (a driver's promise).</summary>
    public Dictionary<ulong, string> UnmappedBy { get; } = [];
}

/// <summary>struct mm_struct.</summary>
internal sealed class MmStruct
{
    internal MmStruct(MmId id, Pfn pgd)
    {
        Id = id;
        Pgd = pgd;
        MmapLock = new SimRwSem($"mmap_lock({id})");
        Ptl = new SimMutex($"ptl({id})");
    }

    /// <summary>The mm's id (and ASID).</summary>
    public MmId Id { get; }
    /// <summary>The top-level page table.</summary>
    public Pfn Pgd { get; }
    /// <summary>VMAs sorted by start address.</summary>
    public List<Vma> Vmas { get; } = [];
    /// <summary>mm_cpumask: CPUs that may hold translations of this mm.</summary>
    public CpuMask CpuMask;
    /// <summary>context.tlb_gen.</summary>
    public ulong TlbGen { get; internal set; }
    /// <summary>tlb_flush_pending: gathers in flight on this mm.</summary>
    public int TlbFlushPending { get; internal set; }
    /// <summary>The gathers in flight (what tlb_flush_pending counts), for the oracle's O3 attribution.</summary>
    internal List<Gather.MmuGather> ActiveGathers { get; } = [];
    /// <summary>mm_users.</summary>
    public int MmUsers { get; internal set; } = 1;
    /// <summary>mmap_lock.</summary>
    public SimRwSem MmapLock { get; }
    /// <summary>The page-table lock (one per mm: split PTLs add nothing the oracle can see).</summary>
    public SimMutex Ptl { get; }
    /// <summary>The mm was torn down (exit_mmap done).</summary>
    public bool Dead { get; internal set; }

    /// <summary>find_vma: the VMA containing <paramref name="address"/>, or null.</summary>
    public Vma? FindVma(ulong address)
    {
        foreach (var v in Vmas)
            if (v.Contains(address)) return v;
        return null;
    }

    /// <summary>Insert a VMA keeping the list sorted; overlapping an existing VMA is an error.</summary>
    public void InsertVma(Vma vma)
    {
        int i = 0;
        while (i < Vmas.Count && Vmas[i].Start < vma.Start) i++;
        if ((i > 0 && Vmas[i - 1].End > vma.Start) || (i < Vmas.Count && Vmas[i].Start < vma.End))
            throw new ProgramException($"VMA {vma} overlaps an existing VMA of {Id} (Pv models mmap into a free range only, not MAP_FIXED over a mapping)");
        Vmas.Insert(i, vma);
        vma.File?.IMmap.Add(vma);
    }

    /// <inheritdoc/>
    public override string ToString() => Id.ToString();
}
