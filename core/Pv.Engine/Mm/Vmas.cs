// VMA bookkeeping the operations share: splitting at a boundary (__split_vma) and detaching the VMAs of a
// range from the mm. Part of the caller's step, under mmap_lock held for write.
namespace Pv.Engine.Mm;

/// <summary>VMA list operations.</summary>
public static class Vmas
{
    /// <summary>Split the VMA containing <paramref name="address"/> so that a VMA starts there (no-op at an edge).</summary>
    public static void SplitAt(MmStruct mm, ulong address)
    {
        var vma = mm.FindVma(address);
        if (vma is null || vma.Start == address) return;
        var tail = new Vma(mm, address, vma.End, vma.Flags, vma.File, vma.PgOff + ((address - vma.Start) >> 12));
        vma.End = address;
        mm.InsertVma(tail);
    }

    /// <summary>Split at both ends of [start, end) and take the VMAs inside out of the mm (still on their file's i_mmap).</summary>
    public static List<Vma> Detach(MmStruct mm, ulong start, ulong end)
    {
        SplitAt(mm, start);
        SplitAt(mm, end);
        var inside = mm.Vmas.Where(v => v.Start >= start && v.End <= end).ToList();
        foreach (var v in inside) mm.Vmas.Remove(v);
        return inside;
    }

    /// <summary>Split at both ends of [start, end) and return the VMAs inside (left in the mm).</summary>
    public static List<Vma> Within(MmStruct mm, ulong start, ulong end)
    {
        SplitAt(mm, start);
        SplitAt(mm, end);
        return mm.Vmas.Where(v => v.Start >= start && v.End <= end).ToList();
    }
}
