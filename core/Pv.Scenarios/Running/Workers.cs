// The worker pool of --jobs: items run on up to N threads and come back in item order, so a caller that
// combines them in order gets the same answer for every N. Each worker reports to a lane of the command's
// RunWatch (the watchdog sees its plugin calls; a stop request reaches it), and a failure is rethrown as the
// lowest failing item threw it, which is what one thread working in order would have met first. Workers take the
// items strictly in order (the next one not taken), and once the caller's token is cancelled (the first Ctrl-C) no
// item is taken: the items in flight finish, and those that ran are a prefix of the list, each of the others failing
// with OperationCanceledException.
using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Pv.Hosting.Composition;

namespace Pv.Scenarios.Running;

/// <summary>Runs independent items on worker threads.</summary>
public static class Workers
{
    /// <summary>
    /// <paramref name="work"/> of each item on <paramref name="jobs"/> worker threads, the results in item order. Each worker
    /// reports to a lane of the command's <see cref="RunWatch"/>, so the watchdog sees its plugin calls and a stop reaches it.
    /// Once <paramref name="cancel"/> is cancelled no further item begins.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was cancelled before every item began (the items
    /// begun before it finished).</exception>
    public static IReadOnlyList<TResult> InParallel<TItem, TResult>(IReadOnlyList<TItem> items, int jobs, Func<TItem, TResult> work, CancellationToken cancel = default)
    {
        var outcomes = Attempt(items, jobs, work, cancel);
        // What escapes is what one thread would have met first: the failure of the lowest item, as thrown.
        outcomes.FirstOrDefault(o => o.Failure is not null).Failure?.Throw();
        return [.. outcomes.Select(o => o.Result!)];
    }

    /// <summary>
    /// <paramref name="work"/> of each item on <paramref name="jobs"/> worker threads: each item's result or failure, in item
    /// order, for a caller that settles them in order and stops at the first failure itself. Once <paramref name="cancel"/>
    /// is cancelled no further item begins: the items that ran are a prefix, each later one failed with
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public static IReadOnlyList<(TResult? Result, ExceptionDispatchInfo? Failure)> Attempt<TItem, TResult>(IReadOnlyList<TItem> items, int jobs, Func<TItem, TResult> work,
        CancellationToken cancel = default)
    {
        var outcomes = new (TResult?, ExceptionDispatchInfo?)[items.Count];
        var command = RunWatch.Current;
        if (jobs <= 1 || items.Count <= 1)
        {
            // One worker: this thread, in order, stopping at the first failure as a loop would.
            for (int i = 0; i < items.Count; i++)
            {
                try
                {
                    cancel.ThrowIfCancellationRequested();
                    outcomes[i] = (work(items[i]), null);
                }
                catch (Exception e) { outcomes[i] = (default, ExceptionDispatchInfo.Capture(e)); break; }
            }
            return outcomes;
        }
        // Unbuffered: each worker takes the next index when it is free, never a range ahead of the others; the token is
        // looked at as an index is taken (under the partitioner's lock), so what was taken before it is a prefix.
        int taken = 0;
        IEnumerable<int> Untaken()
        {
            for (int i = 0; i < items.Count && !cancel.IsCancellationRequested; i = ++taken) yield return i;
        }
        var inOrder = Partitioner.Create(Untaken(), EnumerablePartitionerOptions.NoBuffering);
        Parallel.ForEach(inOrder, new ParallelOptions { MaxDegreeOfParallelism = jobs },
            () => command?.Lane().Install(),
            (i, _, lane) =>
            {
                try { outcomes[i] = (work(items[i]), null); }
                catch (Exception e) { outcomes[i] = (default, ExceptionDispatchInfo.Capture(e)); }
                return lane;
            },
            lane => lane?.Dispose());
        for (int i = taken; i < items.Count; i++)
            outcomes[i] = (default, ExceptionDispatchInfo.Capture(new OperationCanceledException(cancel)));
        return outcomes;
    }
}
