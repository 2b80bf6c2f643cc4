// Page-table entries as the hardware and the kernel see them: one 64-bit word, a PFN and flags.
// The layout is fixed so that a read or write of an entry is one atomic step on one word.
namespace Pv.Abstractions.Memory;

/// <summary>Page-table levels, leaf first. Four-level machines have no P4D (it folds into the PGD).</summary>
public enum PageTableLevel : byte
{
    /// <summary>Last level: entries map 4 KiB pages.</summary>
    Pte = 0,
    /// <summary>Page middle directory: entries point to PTE tables or map 2 MiB huge pages.</summary>
    Pmd = 1,
    /// <summary>Page upper directory: entries point to PMD tables or map 1 GiB huge pages.</summary>
    Pud = 2,
    /// <summary>Fourth level (present only with 5-level paging).</summary>
    P4d = 3,
    /// <summary>Top level.</summary>
    Pgd = 4,
}

/// <summary>Flags of a page-table entry. Bits 52..55 are free for a backend's software bits.</summary>
[Flags]
public enum PteFlags : ulong
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>_PAGE_PRESENT: the entry translates.</summary>
    Present = 1UL << 0,
    /// <summary>_PAGE_RW: writes are allowed.</summary>
    Write = 1UL << 1,
    /// <summary>_PAGE_USER: user-mode accesses are allowed.</summary>
    User = 1UL << 2,
    /// <summary>_PAGE_ACCESSED (young).</summary>
    Accessed = 1UL << 5,
    /// <summary>_PAGE_DIRTY.</summary>
    Dirty = 1UL << 6,
    /// <summary>_PAGE_PSE: at PMD or PUD level, a huge leaf instead of a pointer to a table.</summary>
    Huge = 1UL << 7,
    /// <summary>_PAGE_GLOBAL: kernel mapping kept across address-space switches.</summary>
    Global = 1UL << 8,
    /// <summary>_PAGE_SPECIAL: no struct page behind it (VM_PFNMAP / VM_MIXEDMAP device PFNs).</summary>
    Special = 1UL << 9,
    /// <summary>_PAGE_SOFT_DIRTY.</summary>
    SoftDirty = 1UL << 10,
    /// <summary>Execution allowed (the inverse of x86's NX bit, kept positive for clarity).</summary>
    Exec = 1UL << 11,
    /// <summary>A guard-page marker installed by MADV_GUARD_INSTALL (a non-present PTE that is not empty).</summary>
    GuardMarker = 1UL << 58,
    /// <summary>Backend software bit 0 (UML uses it for NEEDSYNC).</summary>
    Software0 = 1UL << 52,
    /// <summary>Backend software bit 1 (UML uses it for NEWPAGE on upper levels).</summary>
    Software1 = 1UL << 53,
    /// <summary>Backend software bit 2.</summary>
    Software2 = 1UL << 54,
    /// <summary>Backend software bit 3.</summary>
    Software3 = 1UL << 55,
}

/// <summary>
/// One page-table entry: a PFN in bits 12..51 and <see cref="PteFlags"/> elsewhere. At an upper level a
/// present, non-huge entry points to the next table's frame.
/// </summary>
/// <param name="Raw">The 64-bit entry.</param>
public readonly record struct PageTableEntry(ulong Raw)
{
    private const ulong PfnMask = ((1UL << 40) - 1) << 12;

    /// <summary>The empty entry (pte_none).</summary>
    public static PageTableEntry Empty => default;

    /// <summary>Makes an entry from a frame and flags.</summary>
    public static PageTableEntry Make(Pfn pfn, PteFlags flags) => new(((pfn.Value << 12) & PfnMask) | (ulong)flags);

    /// <summary>The frame this entry points to (a page, or the next-level table).</summary>
    public Pfn Pfn => new((Raw & PfnMask) >> 12);

    /// <summary>The flags.</summary>
    public PteFlags Flags => (PteFlags)(Raw & ~PfnMask);

    /// <summary>pte_none: all bits clear.</summary>
    public bool IsNone => Raw == 0;

    /// <summary>The present bit is set.</summary>
    public bool IsPresent => (Raw & (ulong)PteFlags.Present) != 0;

    /// <summary>Writable (when present).</summary>
    public bool IsWritable => (Raw & (ulong)PteFlags.Write) != 0;

    /// <summary>At PMD or PUD level: a huge leaf.</summary>
    public bool IsHuge => (Raw & (ulong)PteFlags.Huge) != 0;

    /// <summary>True if every flag in <paramref name="flags"/> is set.</summary>
    public bool Has(PteFlags flags) => (Raw & (ulong)flags) == (ulong)flags;

    /// <summary>This entry with <paramref name="flags"/> set.</summary>
    public PageTableEntry With(PteFlags flags) => new(Raw | (ulong)flags);

    /// <summary>This entry with <paramref name="flags"/> cleared.</summary>
    public PageTableEntry Without(PteFlags flags) => new(Raw & ~(ulong)flags);

    /// <inheritdoc/>
    public override string ToString() => IsNone ? "none" : $"{Pfn} [{Flags}]";
}

/// <summary>Where an entry lives: the table frame, the index in it, and the table's level.</summary>
/// <param name="Table">The page-table page holding the entry.</param>
/// <param name="Index">Index 0..511 in that table.</param>
/// <param name="Level">The level of the table.</param>
public readonly record struct PteSlot(Pfn Table, int Index, PageTableLevel Level);

/// <summary>Geometry of x86-64/arm64 4 KiB paging, shared by the engine and plugins.</summary>
public static class PageGeometry
{
    /// <summary>log2 of the base page size.</summary>
    public const int PageShift = 12;
    /// <summary>The base page size, 4 KiB.</summary>
    public const ulong PageSize = 1UL << PageShift;
    /// <summary>Entries in every table.</summary>
    public const int EntriesPerTable = 512;
    /// <summary>log2 of the span one entry at <paramref name="level"/> maps (12 at PTE, 21 at PMD, ...).</summary>
    public static int Shift(PageTableLevel level) => PageShift + 9 * (int)level;
    /// <summary>The span one entry at <paramref name="level"/> maps.</summary>
    public static ulong Span(PageTableLevel level) => 1UL << Shift(level);
    /// <summary>The index of <paramref name="address"/> in a table at <paramref name="level"/>.</summary>
    public static int Index(ulong address, PageTableLevel level) => (int)((address >> Shift(level)) & 511);
}
