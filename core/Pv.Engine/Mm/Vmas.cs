using Pv.Engine.Sched;
// VMA bookkeeping the operations share: splitting at a boundary (__split_vma) and detaching the VMAs of a
// range from the mm, under mmap_lock held for write. Splitting a file VMA changes what its file's i_mmap holds,
// so, as vma_prepare does, it takes i_mmap_rwsem for write: an rmap walker (unmap_mapping_range, truncate)
// holding it for read never sees a VMA change under it. SplitRange does that as steps; Detach and Within then
// find the edges already split.
namespace Pv.Engine.Mm;

/// <summary>VMA list operations.</summary>
internal static class Vmas
{
    /// <summary>
    /// Split the VMAs at both ends of [start, end) (__split_vma), each split of a file VMA under its file's i_mmap_rwsem
    /// (write), one step to take it.
    /// </summary>
    public static IEnumerable<Sched.Step> SplitRange(Machine m, Sched.SimThread t, MmStruct mm, ulong start, ulong end)
    {
        foreach (ulong at in (ulong[])[start, end])
        {
            var vma = mm.FindVma(at);
            if (vma is null || vma.Start == at) continue;
            if (vma.File is { } file) yield return Sched.Step.Call(file.IMmapRwsem.DownWrite(t));
            SplitAt(mm, at);
            m.Trace(TraceEvents.SplitVma, at, 0);
            vma.File?.IMmapRwsem.UpWrite(t);
        }
    }

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
        var inside = new List<Vma>();
        var vmas = mm.Vmas;
        int kept = 0;
        for (int i = 0; i < vmas.Count; i++)
        {
            var v = vmas[i];
            if (v.Start >= start && v.End <= end) inside.Add(v);
            else vmas[kept++] = v;
        }
        vmas.RemoveRange(kept, vmas.Count - kept);
        return inside;
    }

    /// <summary>
    /// What bounds the page tables an unmap of [start, end) may free (free_pgtables' floor and ceiling): the end of the
    /// last VMA below it and the start of the first above it, 0 where there is none.
    /// </summary>
    public static (ulong Floor, ulong Ceiling) Neighbours(MmStruct mm, ulong start, ulong end)
    {
        ulong floor = 0, ceiling = 0;
        bool above = false;
        foreach (var v in mm.Vmas)
        {
            if (v.End <= start) floor = Math.Max(floor, v.End);
            if (v.Start >= end && (!above || v.Start < ceiling)) (ceiling, above) = (v.Start, true);
        }
        return (floor, ceiling);
    }

    /// <summary>Split at both ends of [start, end) and return the VMAs inside (left in the mm).</summary>
    public static List<Vma> Within(MmStruct mm, ulong start, ulong end)
    {
        SplitAt(mm, start);
        SplitAt(mm, end);
        var inside = new List<Vma>();
        foreach (var v in mm.Vmas)
            if (v.Start >= start && v.End <= end) inside.Add(v);
        return inside;
    }
}
