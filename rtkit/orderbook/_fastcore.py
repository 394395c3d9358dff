"""The compiled core of :class:`~rtkit.orderbook.fast.FastOrderBook`.

Every function here works on a *book tuple* ``bk = (orders, levels, words,
summary, htab, meta)`` of preallocated int64 arrays (:func:`new_book`).
Nothing allocates on the matching path, and nothing here validates more than
an ops array can get wrong (the Python API checks types first). Slot and
pointer value 0 means "none": slot 0 of ``orders`` is a sentinel that never
holds an order and price 0 never holds a level, so zeroed arrays are an
empty book, and memory the book never uses is never touched.

* ``orders[slot]``: one resting order per row (64 bytes, one cache line):
  id, side, price, remaining qty, prev and next slot in its level's FIFO,
  arrival sequence. A free slot has qty 0; freed slots form a list through
  their ``next`` column, and slots never used yet come from a bump pointer.
* ``levels[price]``: head and tail slot of the FIFO at that price, total qty,
  order count. A price holds bids or asks, never both (the book is never
  crossed at rest), so one table serves both sides.
* ``words``/``summary``: a two-level bitmap of the non-empty prices (bit
  ``p & 63`` of ``words[p >> 6]``; bit ``w & 63`` of ``summary[w >> 6]`` is
  set when ``words[w] != 0``). When the best level empties, the next one is
  found with a few bit scans: at most ``max_price / 4096`` summary words are
  read, never every tick.
* ``htab``: an open-addressing hash table id -> slot: linear probing,
  backward-shift deletion (no tombstones), load <= 1/2. Ids ``16k .. 16k+15``
  share a block of entries and the blocks are scattered by Fibonacci
  hashing, so sequential ids stay in cache while strided ids still spread.
* ``meta``: best bid and ask, counters and bounds (the ``M_*`` positions).

The request kernels return a status code (``OK`` or an ``R_*`` reason) and
change nothing unless it is ``OK``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

from rtkit.orderbook.types import BUY, CANCEL, FOK, GTC, IOC, MODIFY, SELL, SUBMIT

# Columns of the order table, of the level table, positions in meta.
O_ID, O_SIDE, O_PRICE, O_QTY, O_PREV, O_NEXT, O_SEQ = range(7)
O_WIDTH = 8
L_HEAD, L_TAIL, L_QTY, L_COUNT = range(4)
L_WIDTH = 4
(
    M_BEST_BID, M_BEST_ASK, M_ORDERS, M_FREE, M_BUMP, M_SEQ, M_BID_LEVELS, M_ASK_LEVELS,
    M_SUBMITTED, M_CANCELLED, M_MODIFIED, M_REJECTED, M_FOK_KILLED, M_TRADES, M_VOLUME,
    M_MAX_ORDERS, M_MAX_PRICE, M_MAX_QTY, M_HASH_MASK,
) = range(19)  # fmt: skip
META_LEN = 19

# Status codes returned by the request kernels (0 = accepted).
(
    OK, R_KIND, R_ID, R_DUPLICATE, R_UNKNOWN, R_SIDE, R_TIF, R_QTY, R_QTY_MAX, R_PRICE,
    R_PRICE_MAX, R_NOTHING, R_FULL,
) = range(13)  # fmt: skip

# The kernels never allocate, so they are compiled without numba's reference
# counting (the ``_nrt`` option): with it, every array passed to every helper
# costs an atomic increment and decrement, measured at 40 % of process().
kernel = njit(cache=True, _nrt=False)
# The request path is inlined into its callers at numba's IR level. Called out
# of line, each helper receives the book tuple flattened into about fifty
# arguments (every array's pointer, shape and strides), while the work of an
# op is a few dozen loads and stores: the calls themselves were more than half
# of process()'s time. The price is compile time (once: the cache keeps it).
inlined = njit(cache=True, _nrt=False, inline="always")

_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64: Fibonacci hashing


def new_book(max_orders: int, max_price: int, max_qty: int) -> tuple:
    """Zeroed arrays for an empty book (validation is the caller's)."""
    cap = 16
    while cap < 2 * max_orders:
        cap *= 2
    n_words = (max_price >> 6) + 1
    meta = np.zeros(META_LEN, np.int64)
    meta[M_BUMP] = 1
    meta[M_MAX_ORDERS], meta[M_MAX_PRICE], meta[M_MAX_QTY] = max_orders, max_price, max_qty
    meta[M_HASH_MASK] = cap - 1
    return (
        np.zeros((max_orders + 1, O_WIDTH), np.int64),
        np.zeros((max_price + 1, L_WIDTH), np.int64),
        np.zeros(n_words, np.int64),
        np.zeros((n_words >> 6) + 1, np.int64),
        np.zeros((cap, 2), np.int64),
        meta,
    )


# ------------------------------------------------------------- id -> slot


@njit(cache=True, _nrt=False, inline="always")
def _home(key, mask):  # pragma: no cover - compiled
    # Ids 16k .. 16k+15 share a block of 16 entries (four cache lines) and the
    # blocks are scattered by Fibonacci hashing: sequential ids, the common
    # case, find their entries in cache, while strided or adversarial ids
    # still spread over the whole table.
    h = (key >> 4) * _GOLDEN
    return (((h ^ (h >> 29)) << 4) | (key & 15)) & mask


@kernel
def find(htab, mask, key):  # pragma: no cover - compiled
    """Slot of resting order ``key``, or 0. O(1) expected."""
    i = _home(key, mask)
    while True:
        slot = htab[i, 1]
        if slot == 0 or htab[i, 0] == key:
            return slot
        i = (i + 1) & mask


@inlined
def _h_insert(htab, mask, key, slot):  # pragma: no cover - compiled
    i = _home(key, mask)
    while htab[i, 1] != 0:
        i = (i + 1) & mask
    htab[i, 0] = key
    htab[i, 1] = slot


@inlined
def _h_delete(htab, mask, key):  # pragma: no cover - compiled
    i = _home(key, mask)
    while htab[i, 0] != key or htab[i, 1] == 0:
        i = (i + 1) & mask
    j = i
    while True:  # backward shift: pull later entries of the cluster into the hole
        j = (j + 1) & mask
        if htab[j, 1] == 0:
            break
        k = _home(htab[j, 0], mask)
        if (j > i and (k <= i or k > j)) or (j < i and k <= i and k > j):
            htab[i, 0] = htab[j, 0]
            htab[i, 1] = htab[j, 1]
            i = j
    htab[i, 0] = 0
    htab[i, 1] = 0


# ------------------------------------------------------------ price bitmap


@inlined
def _bit_set(words, summary, p):  # pragma: no cover - compiled
    w = p >> 6
    words[w] |= np.int64(1) << (p & 63)
    summary[w >> 6] |= np.int64(1) << (w & 63)


@inlined
def _bit_clear(words, summary, p):  # pragma: no cover - compiled
    w = p >> 6
    words[w] &= ~(np.int64(1) << (p & 63))
    if words[w] == 0:
        summary[w >> 6] &= ~(np.int64(1) << (w & 63))


@kernel
def below(words, summary, p):  # pragma: no cover - compiled
    """The highest non-empty price < p, or 0."""
    if p <= 1:
        return 0
    q = p - 1
    w = q >> 6
    m = words[w] & ((np.int64(2) << (q & 63)) - 1)
    if m != 0:
        return (w << 6) + 63 - leading_zeros(m)
    if w == 0:
        return 0
    w -= 1
    s = w >> 6
    m = summary[s] & ((np.int64(2) << (w & 63)) - 1)
    while m == 0:
        if s == 0:
            return 0
        s -= 1
        m = summary[s]
    w = (s << 6) + 63 - leading_zeros(m)
    return (w << 6) + 63 - leading_zeros(words[w])


@kernel
def above(words, summary, p):  # pragma: no cover - compiled
    """The lowest non-empty price > p, or 0."""
    q = p + 1
    w = q >> 6
    if w >= words.shape[0]:
        return 0
    m = words[w] & (np.int64(-1) << (q & 63))
    if m != 0:
        return (w << 6) + trailing_zeros(m)
    w += 1
    if w >= words.shape[0]:
        return 0
    s = w >> 6
    m = summary[s] & (np.int64(-1) << (w & 63))
    while m == 0:
        s += 1
        if s >= summary.shape[0]:
            return 0
        m = summary[s]
    w = (s << 6) + trailing_zeros(m)
    return (w << 6) + trailing_zeros(words[w])


# ------------------------------------------------------------- levels


@inlined
def _level_emptied(bk, p, side):  # pragma: no cover - compiled
    words, summary, meta = bk[2], bk[3], bk[5]
    _bit_clear(words, summary, p)
    if side == BUY:
        meta[M_BID_LEVELS] -= 1
        if meta[M_BEST_BID] == p:  # every non-empty price below the best bid is a bid
            meta[M_BEST_BID] = below(words, summary, p)
    else:
        meta[M_ASK_LEVELS] -= 1
        if meta[M_BEST_ASK] == p:
            meta[M_BEST_ASK] = above(words, summary, p)


@inlined
def _free(bk, s):  # pragma: no cover - compiled
    orders, htab, meta = bk[0], bk[4], bk[5]
    _h_delete(htab, meta[M_HASH_MASK], orders[s, O_ID])
    orders[s, O_QTY] = 0
    orders[s, O_NEXT] = meta[M_FREE]
    meta[M_FREE] = s
    meta[M_ORDERS] -= 1


@inlined
def rest(bk, oid, side, price, qty):  # pragma: no cover - compiled
    """Append a new order at the back of its level. O(1); needs a free slot."""
    orders, levels, words, summary, htab, meta = bk
    s = meta[M_FREE]
    if s != 0:
        meta[M_FREE] = orders[s, O_NEXT]
    else:
        s = meta[M_BUMP]
        meta[M_BUMP] = s + 1
    tail = levels[price, L_TAIL]
    meta[M_SEQ] += 1
    orders[s, O_ID] = oid
    orders[s, O_SIDE] = side
    orders[s, O_PRICE] = price
    orders[s, O_QTY] = qty
    orders[s, O_PREV] = tail
    orders[s, O_NEXT] = 0
    orders[s, O_SEQ] = meta[M_SEQ]
    if tail == 0:
        levels[price, L_HEAD] = s
        _bit_set(words, summary, price)
        if side == BUY:
            meta[M_BID_LEVELS] += 1
            if price > meta[M_BEST_BID]:
                meta[M_BEST_BID] = price
        else:
            meta[M_ASK_LEVELS] += 1
            if meta[M_BEST_ASK] == 0 or price < meta[M_BEST_ASK]:
                meta[M_BEST_ASK] = price
    else:
        orders[tail, O_NEXT] = s
    levels[price, L_TAIL] = s
    levels[price, L_QTY] += qty
    levels[price, L_COUNT] += 1
    _h_insert(htab, meta[M_HASH_MASK], oid, s)
    meta[M_ORDERS] += 1


@inlined
def unlink(bk, s):  # pragma: no cover - compiled
    """Take the order in slot ``s`` out of its level and free the slot. O(1)."""
    orders, levels = bk[0], bk[1]
    p = orders[s, O_PRICE]
    prev = orders[s, O_PREV]
    nxt = orders[s, O_NEXT]
    if prev != 0:
        orders[prev, O_NEXT] = nxt
    else:
        levels[p, L_HEAD] = nxt
    if nxt != 0:
        orders[nxt, O_PREV] = prev
    else:
        levels[p, L_TAIL] = prev
    levels[p, L_QTY] -= orders[s, O_QTY]
    levels[p, L_COUNT] -= 1
    if levels[p, L_COUNT] == 0:
        _level_emptied(bk, p, orders[s, O_SIDE])
    _free(bk, s)


# ------------------------------------------------------------- matching


@kernel
def available(bk, side, price, wanted):  # pragma: no cover - compiled
    """Opposite qty at prices an order (side, price; 0 = market) accepts, summed
    best level first until it reaches ``wanted``. O(levels summed)."""
    levels, words, summary, meta = bk[1], bk[2], bk[3], bk[5]
    total = 0
    if side == BUY:
        p = meta[M_BEST_ASK]
        while p != 0 and (price == 0 or p <= price) and total < wanted:
            total += levels[p, L_QTY]
            p = above(words, summary, p)
    else:
        p = meta[M_BEST_BID]
        while p != 0 and (price == 0 or p >= price) and total < wanted:
            total += levels[p, L_QTY]
            p = below(words, summary, p)
    return total


@inlined
def _match(bk, taker, side, price, qty, trades, nt):  # pragma: no cover - compiled
    """Trade an incoming order against the opposite side; return (remaining, nt)."""
    orders, levels, meta = bk[0], bk[1], bk[5]
    best = M_BEST_ASK if side == BUY else M_BEST_BID
    while qty > 0:
        p = meta[best]
        if p == 0 or (price != 0 and (p > price if side == BUY else p < price)):
            break
        s = levels[p, L_HEAD]
        while qty > 0 and s != 0:
            mq = orders[s, O_QTY]
            fill = min(qty, mq)
            trades[nt, 0] = orders[s, O_ID]
            trades[nt, 1] = taker
            trades[nt, 2] = p
            trades[nt, 3] = fill
            nt += 1
            meta[M_TRADES] += 1
            meta[M_VOLUME] += fill
            qty -= fill
            levels[p, L_QTY] -= fill
            if fill < mq:
                orders[s, O_QTY] = mq - fill
                break
            nxt = orders[s, O_NEXT]  # the maker is filled: pop it off the FIFO
            levels[p, L_HEAD] = nxt
            levels[p, L_COUNT] -= 1
            if nxt != 0:
                orders[nxt, O_PREV] = 0
            else:
                levels[p, L_TAIL] = 0
            _free(bk, s)
            s = nxt
        if s == 0:
            _level_emptied(bk, p, -side)
    return qty, nt


@kernel
def submit(bk, oid, side, qty, price, tif, trades, nt):  # pragma: no cover - compiled
    """Validate and apply a SUBMIT; return (status, nt). Nothing changes unless OK."""
    htab, meta = bk[4], bk[5]
    if oid < 0:
        return R_ID, nt
    if find(htab, meta[M_HASH_MASK], oid) != 0:
        return R_DUPLICATE, nt
    if side != BUY and side != SELL:
        return R_SIDE, nt
    if tif != GTC and tif != IOC and tif != FOK:
        return R_TIF, nt
    if qty <= 0:
        return R_QTY, nt
    if qty > meta[M_MAX_QTY]:
        return R_QTY_MAX, nt
    if price < 0:
        return R_PRICE, nt
    if price > meta[M_MAX_PRICE]:
        return R_PRICE_MAX, nt
    if (
        tif == GTC
        and price != 0
        and meta[M_ORDERS] >= meta[M_MAX_ORDERS]
        and available(bk, side, price, qty) < qty
    ):
        return R_FULL, nt  # it would have to rest and there is no room
    meta[M_SUBMITTED] += 1
    if tif == FOK and available(bk, side, price, qty) < qty:
        meta[M_FOK_KILLED] += 1
        return OK, nt
    qty, nt = _match(bk, oid, side, price, qty, trades, nt)
    if qty > 0 and tif == GTC and price != 0:
        rest(bk, oid, side, price, qty)
    return OK, nt


@kernel
def cancel(bk, oid):  # pragma: no cover - compiled
    """Validate and apply a CANCEL; return (status, qty cancelled)."""
    orders, htab, meta = bk[0], bk[4], bk[5]
    s = find(htab, meta[M_HASH_MASK], oid) if oid >= 0 else 0
    if s == 0:
        return (R_ID if oid < 0 else R_UNKNOWN), 0
    qty = orders[s, O_QTY]
    unlink(bk, s)
    meta[M_CANCELLED] += 1
    return OK, qty


@kernel
def modify(bk, oid, qty, price, trades, nt):  # pragma: no cover - compiled
    """Validate and apply a MODIFY (0 = unchanged); return (status, nt)."""
    orders, levels, htab, meta = bk[0], bk[1], bk[4], bk[5]
    s = find(htab, meta[M_HASH_MASK], oid) if oid >= 0 else 0
    if s == 0:
        return (R_ID if oid < 0 else R_UNKNOWN), nt
    if qty == 0 and price == 0:
        return R_NOTHING, nt
    if qty < 0:
        return R_QTY, nt
    if qty > meta[M_MAX_QTY]:
        return R_QTY_MAX, nt
    if price < 0:
        return R_PRICE, nt
    if price > meta[M_MAX_PRICE]:
        return R_PRICE_MAX, nt
    side = orders[s, O_SIDE]
    old_qty = orders[s, O_QTY]
    old_price = orders[s, O_PRICE]
    new_qty = qty if qty != 0 else old_qty
    new_price = price if price != 0 else old_price
    meta[M_MODIFIED] += 1
    if new_price == old_price and new_qty <= old_qty:  # in place: priority kept
        orders[s, O_QTY] = new_qty
        levels[old_price, L_QTY] -= old_qty - new_qty
        return OK, nt
    unlink(bk, s)  # frees a slot, so the re-entry below always has room
    new_qty, nt = _match(bk, oid, side, new_price, new_qty, trades, nt)
    if new_qty > 0:
        rest(bk, oid, side, new_price, new_qty)
    return OK, nt


# process inlines the three requests too; the flow generator and the Python
# API call the out-of-line versions above (same code, compiled once each), so
# only the loop that is timed pays the compile time of inlining them.
_submit_inlined = inlined(submit.py_func)
_cancel_inlined = inlined(cancel.py_func)
_modify_inlined = inlined(modify.py_func)


@kernel
def process(bk, kinds, ids, sides, qtys, prices, tifs, start, trades, nt):  # pragma: no cover
    """Apply ops ``start..`` in order; return (next op, nt, rejected).

    Stops early, before an op, when ``trades`` might not have room for all of
    that op's fills (at most one per resting order): the caller grows the
    buffer and calls again from the returned position.
    """
    meta = bk[5]
    rejected = 0
    cap = trades.shape[0]
    for i in range(start, kinds.shape[0]):
        if nt + meta[M_ORDERS] > cap:
            return i, nt, rejected
        kind = kinds[i]
        if kind == SUBMIT:
            oid, side, qty, price, tif = ids[i], sides[i], qtys[i], prices[i], tifs[i]
            status, nt = _submit_inlined(bk, oid, side, qty, price, tif, trades, nt)
        elif kind == CANCEL:
            status, _ = _cancel_inlined(bk, ids[i])
        elif kind == MODIFY:
            status, nt = _modify_inlined(bk, ids[i], qtys[i], prices[i], trades, nt)
        else:
            status = R_KIND
        if status != OK:
            meta[M_REJECTED] += 1
            rejected += 1
    return kinds.shape[0], nt, rejected
