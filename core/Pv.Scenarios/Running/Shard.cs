// --shard K/N: shard K of N takes the units of work i with i mod N = K (explore: chunks of a search in search
// order; ab: seeds, both sides; zoo: entries in file order; soak: scenarios), so the N shards together take every
// unit exactly once whatever N, each shard takes units from the whole range (a search's first chunks are spread
// over every shard, and a slow region of seeds is shared out), and which shard takes a unit depends only on its
// index and N. Sharding changes which units a process runs, never what a unit computes or stores.
using Pv.Engine;

namespace Pv.Scenarios.Running;

/// <summary>Shard <see cref="Index"/> of <see cref="Count"/>: the units of work it runs.</summary>
/// <param name="Index">K, from 0 to <paramref name="Count"/> - 1.</param>
/// <param name="Count">N, at least 1.</param>
public readonly record struct Shard(int Index, int Count)
{
    /// <summary>Every unit: the run is not sharded.</summary>
    public static Shard All { get; } = new(0, 1);

    /// <summary>Whether this takes every unit.</summary>
    public bool IsAll => Count == 1;

    /// <summary>Whether unit <paramref name="unit"/> (its index in the run's order) belongs to this shard.</summary>
    public bool Owns(long unit) => unit % Count == Index;

    /// <summary>This shard's units of <paramref name="units"/>, in their order.</summary>
    public IReadOnlyList<T> Of<T>(IEnumerable<T> units)
    {
        var shard = this;
        return [.. units.Where((_, i) => shard.Owns(i))];
    }

    /// <summary>As written on the command line: <c>K/N</c>.</summary>
    public override string ToString() => $"{Index}/{Count}";

    /// <summary>Reads <c>K/N</c> (decimal, 0 &lt;= K &lt; N); <paramref name="option"/> names the option in the message.</summary>
    /// <exception cref="PvInputException">Not of that form, N below 1, or K not below N.</exception>
    public static Shard Parse(string text, string option = "--shard")
    {
        const System.Globalization.NumberStyles Digits = System.Globalization.NumberStyles.None;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        int slash = text.IndexOf('/');
        if (slash < 0 || !int.TryParse(text.AsSpan(0, slash), Digits, inv, out int k) || !int.TryParse(text.AsSpan(slash + 1), Digits, inv, out int n))
            throw new PvInputException($"{option} {text}: expected K/N, shard K of N with 0 <= K < N (e.g. 0/4)");
        if (n < 1) throw new PvInputException($"{option} {text}: N must be at least 1");
        if (k >= n) throw new PvInputException($"{option} {text}: K must be below N (the shards of {n} are 0 to {n - 1})");
        return new Shard(k, n);
    }
}
