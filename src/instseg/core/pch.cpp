// Translation unit that owns the precompiled header (see pch.h).
