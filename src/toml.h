/* toml.h: placeholder, replaced by the TOML reader. */
#pragma once
