// The kernel's page-table primitives the generic mm uses: set_pte_at (through the backend's pv op and the
// arch set_ptes hook), ptep_get_and_clear, and the table allocators pte_alloc/pmd_alloc/pud_alloc that link
// a fresh zeroed table into its parent (after the pv alloc_* op, as paravirt requires). Each is part of the
// caller's current step; callers yield between entries.
using Pv.Abstractions.Memory;
using Pv.Engine.Memory;

namespace Pv.Engine.Mm;

/// <summary>Page-table primitives of the generic mm.</summary>
internal static class PteOps
{
    /// <summary>Flags of an upper-level entry pointing to a table (_PAGE_TABLE).</summary>
    public const PteFlags TableFlags = PteFlags.Present | PteFlags.Write | PteFlags.User | PteFlags.Accessed;

    /// <summary><c>set_pte_at</c>: write through the pv op, then the arch <c>set_ptes</c> hook.</summary>
    public static void SetPteAt(Machine m, MmStruct mm, ulong address, PteSlot slot, PageTableEntry entry)
    {
        m.PvOps.SetPte(m.PageTables, slot, entry);
        m.Arch.SetPtes(mm.Id, address, slot, entry, 1);
    }

    /// <summary><c>ptep_get_and_clear</c>: read the entry and clear it; returns the old value.</summary>
    public static PageTableEntry GetAndClear(Machine m, PteSlot slot)
    {
        var old = new PageTableEntry(m.Memory.Entries(slot.Table)[slot.Index]);
        m.PvOps.SetPte(m.PageTables, slot, PageTableEntry.Empty);
        return old;
    }

    /// <summary>
    /// <c>__pte_alloc</c> and friends: allocate a zeroed table for the child of <paramref name="parent"/>, tell the
    /// backend (<c>alloc_pte</c>/<c>alloc_pmd</c>/...), and link it. Returns false if allocation failed.
    /// </summary>
    public static bool AllocTable(Machine m, MmStruct mm, PteSlot parent, out Pfn table)
    {
        table = m.Memory.Alloc(AllocSite.PageTable, FrameKind.PageTable);
        if (!table.IsValid) return false;
        switch (parent.Level - 1)
        {
            case PageTableLevel.Pte: m.PvOps.AllocPte(mm.Id, table); break;
            case PageTableLevel.Pmd: m.PvOps.AllocPmd(mm.Id, table); break;
            case PageTableLevel.Pud: m.PvOps.AllocPud(mm.Id, table); break;
            default: m.PvOps.AllocP4d(mm.Id, table); break;
        }
        m.PvOps.SetPte(m.PageTables, parent, PageTableEntry.Make(table, TableFlags));
        return true;
    }

    /// <summary>A backend's software bits (UML's NEEDSYNC on a cleared entry) do not make an entry non-empty.</summary>
    private const ulong SoftwareBits = (ulong)(PteFlags.Software0 | PteFlags.Software1 | PteFlags.Software2 | PteFlags.Software3);

    /// <summary>
    /// <c>pte_none</c> / <c>pmd_none</c>: nothing but backend software bits, as UML's definitions mask NEEDSYNC. The
    /// generic mm tests emptiness with this, never with the raw value.
    /// </summary>
    public static bool IsNone(PageTableEntry entry) => (entry.Raw & ~SoftwareBits) == 0;

    /// <summary>The entry at <paramref name="slot"/> (part of the current step).</summary>
    public static PageTableEntry Read(Machine m, PteSlot slot) => new(m.Memory.Entries(slot.Table)[slot.Index]);

    /// <summary>The slot for <paramref name="address"/> one level below a present table entry.</summary>
    public static PteSlot Child(PageTableEntry parent, ulong address, PageTableLevel parentLevel) =>
        PageTables.SlotOf(parent.Pfn, address, parentLevel - 1);
}
