#!/usr/bin/env node
import 'reflect-metadata';
import { main } from './program';

void main(process.argv);
