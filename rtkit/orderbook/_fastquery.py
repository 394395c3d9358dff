"""Read-only kernels of :class:`~rtkit.orderbook.fast.FastOrderBook`: depth,
the list of resting orders, and the invariant check behind ``_check()``.

They walk the arrays laid out in :mod:`rtkit.orderbook._fastcore`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rtkit.orderbook._fastcore import (
    L_COUNT,
    L_HEAD,
    L_QTY,
    L_TAIL,
    M_ASK_LEVELS,
    M_BEST_ASK,
    M_BEST_BID,
    M_BID_LEVELS,
    M_BUMP,
    M_FREE,
    M_HASH_MASK,
    M_MAX_ORDERS,
    M_ORDERS,
    O_ID,
    O_NEXT,
    O_PREV,
    O_PRICE,
    O_QTY,
    O_SEQ,
    O_SIDE,
    above,
    below,
    find,
    kernel,
)
from rtkit.orderbook.types import BUY, SELL


@njit(cache=True)
def depth(bk, side, n):  # pragma: no cover - compiled
    """Up to ``n`` levels of one side, best first, as rows (price, qty)."""
    levels, words, summary, meta = bk[1], bk[2], bk[3], bk[5]
    out = np.empty((n, 2), np.int64)
    k = 0
    p = meta[M_BEST_BID] if side == BUY else meta[M_BEST_ASK]
    while p != 0 and k < n:
        out[k, 0] = p
        out[k, 1] = levels[p, L_QTY]
        k += 1
        p = below(words, summary, p) if side == BUY else above(words, summary, p)
    return out[:k]


@njit(cache=True)
def resting(bk):  # pragma: no cover - compiled
    """Every resting order as rows (id, side, price, qty): bids then asks, best
    level first, FIFO within a level."""
    orders, levels, words, summary, meta = bk[0], bk[1], bk[2], bk[3], bk[5]
    out = np.empty((meta[M_ORDERS], 4), np.int64)
    k = 0
    for side in (BUY, SELL):
        p = meta[M_BEST_BID] if side == BUY else meta[M_BEST_ASK]
        while p != 0:
            s = levels[p, L_HEAD]
            while s != 0:
                out[k, 0] = orders[s, O_ID]
                out[k, 1] = side
                out[k, 2] = p
                out[k, 3] = orders[s, O_QTY]
                k += 1
                s = orders[s, O_NEXT]
            p = below(words, summary, p) if side == BUY else above(words, summary, p)
    return out


@kernel
def check(bk):  # pragma: no cover - compiled
    """Walk every array; return (0, 0) or (error code, price or slot)."""
    orders, levels, words, summary, htab, meta = bk
    max_orders = meta[M_MAX_ORDERS]
    n = bid_levels = ask_levels = best_bid = best_ask = 0
    for p in range(levels.shape[0]):
        bit = (words[p >> 6] >> (p & 63)) & 1
        head = levels[p, L_HEAD]
        if head == 0:
            if (
                bit != 0
                or levels[p, L_TAIL] != 0
                or levels[p, L_QTY] != 0
                or levels[p, L_COUNT] != 0
            ):
                return 1, p  # empty level with leftovers, or marked non-empty
            continue
        if bit == 0 or p == 0:
            return 2, p  # level missing from the bitmap
        side = orders[head, O_SIDE]
        total = count = prev = 0
        s = head
        seq = -1
        while s != 0:
            if s > max_orders or count > max_orders or orders[s, O_PREV] != prev:
                return 3, p  # broken links
            if orders[s, O_PRICE] != p or orders[s, O_SIDE] != side or orders[s, O_QTY] <= 0:
                return 4, p  # an order in the wrong level, or with no qty
            if orders[s, O_SEQ] <= seq:
                return 5, p  # FIFO broken
            if find(htab, meta[M_HASH_MASK], orders[s, O_ID]) != s:
                return 6, p  # id index does not find the order
            seq = orders[s, O_SEQ]
            total += orders[s, O_QTY]
            count += 1
            prev = s
            s = orders[s, O_NEXT]
        if levels[p, L_TAIL] != prev or levels[p, L_QTY] != total or levels[p, L_COUNT] != count:
            return 7, p  # level tail, total or count wrong
        n += count
        if side == BUY:
            if best_ask != 0:
                return 8, p  # a bid above an ask: crossed at rest
            bid_levels += 1
            best_bid = p
        else:
            ask_levels += 1
            if best_ask == 0:
                best_ask = p
    for w in range(words.shape[0]):
        if ((summary[w >> 6] >> (w & 63)) & 1) != (words[w] != 0):
            return 9, w  # summary bitmap out of step
    if (n, bid_levels, ask_levels, best_bid, best_ask) != (
        meta[M_ORDERS], meta[M_BID_LEVELS], meta[M_ASK_LEVELS], meta[M_BEST_BID],
        meta[M_BEST_ASK],
    ):  # fmt: skip
        return 10, 0  # counts or best prices wrong
    used = 0
    for i in range(htab.shape[0]):
        s = htab[i, 1]
        if s != 0:
            used += 1
            if s >= meta[M_BUMP] or orders[s, O_ID] != htab[i, 0] or orders[s, O_QTY] <= 0:
                return 11, s  # id index holds a slot that is not that resting order
    n_free = 0
    s = meta[M_FREE]
    while s != 0:
        if orders[s, O_QTY] != 0 or n_free > max_orders:
            return 12, s  # a free slot in use, or a loop in the free list
        n_free += 1
        s = orders[s, O_NEXT]
    if used != n or n + n_free != meta[M_BUMP] - 1:
        return 13, 0  # slots lost or counted twice
    return 0, 0
