// SPDX-License-Identifier: Apache-2.0
// `node --import ./register.mjs`: installs the k6 module hooks (Node 20.6+ module.register).
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
